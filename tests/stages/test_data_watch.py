"""``mlops data-watch`` on real stores: a local folder, moto's S3 server and an http.server on
127.0.0.1, the registry on a folder, the dispatch sent to the fake GitHub."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.data_source import compare, listing
from mlops_actions.errors import DataError, UsageError
from mlops_actions.registry.store import Registry
from mlops_actions.stages.data_watch import MAX_PAYLOAD_FILES, data_watch
from mlops_actions.stages.evaluate_gate import evaluate_gate
from mlops_actions.stages.train import train
from support.models import flowers
from support.s3 import S3_ENV, moto_server

CONFIG = """\
name: flowers
task: classification
data: {train: data/train.csv, target: species, source: "%(source)s"}
deploy:
  targets:
    models: {type: registry, url: registry}
"""


def project(folder: Path, source: str | Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlops.yaml").write_text(CONFIG % {"source": source})
    return folder / "mlops.yaml"


def trained_on(config_path: Path, source: str, version_seed: bytes = b"v1") -> Registry:
    """The registry after a deploy of a model whose training recorded ``source``'s listing now."""
    config = load_config(config_path)
    registry = Registry(config.deploy.targets["models"].url)
    model = config_path.parent / "model.onnx"
    model.write_bytes(version_seed)
    registry.register(
        "flowers",
        {"model.onnx": model},
        {
            "sha256": hashlib.sha256(version_seed).hexdigest(),
            "lineage": {"source": listing(source)},
        },
    )
    return registry


def csv_text(rows: int, seed: int = 0) -> str:
    return flowers(rows, seed).to_csv(index=False)


# ---- local folder -----------------------------------------------------------------------------
def test_a_local_folder_change_is_listed_by_file_with_rows(tmp_path, fake_github):
    bucket = tmp_path / "bucket"
    (bucket / "2031").mkdir(parents=True)
    (bucket / "2031/a.csv").write_text(csv_text(10))
    (bucket / "2031/b.csv").write_text(csv_text(20, 1))
    (bucket / "notes.txt").write_text("not data")
    path = project(tmp_path / "p", bucket)
    registry = trained_on(path, str(bucket))
    config = load_config(path)

    calm = data_watch(config, workdir=tmp_path / "w")
    assert (calm.changed, calm.files, calm.alert) == (False, 2, {"dispatched": False})
    os.utime(bucket / "2031/a.csv", (1, 1))  # a checkout's new mtime is no change
    (bucket / "notes.txt").write_text("other notes")  # nor is a file that is not data
    assert not data_watch(config, workdir=tmp_path / "w").changed
    assert fake_github.dispatches == []

    (bucket / "2031/b.csv").write_text(csv_text(25, 1))
    (bucket / "2031/c.csv").write_text(csv_text(5, 2))
    (bucket / "2031/a.csv").unlink()
    found = data_watch(config, workdir=tmp_path / "w")
    assert found.changed and found.passed
    assert found.changes == {
        "added": ["2031/c.csv"],
        "removed": ["2031/a.csv"],
        "changed": ["2031/b.csv"],
        "rows": {"before": 30, "after": 30},
    }
    (sent,) = fake_github.dispatches
    assert sent["event_type"] == "data-updated"
    payload = sent["client_payload"]
    assert payload["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert payload["files"]["added"] == ["2031/c.csv"] and payload["trained_version"] == 1
    assert len(payload) <= 10
    assert [e["state"] for e in registry.history("flowers") if e["event"] == "data-updated"] == [
        "sending",
        "sent",
    ]
    # the next night, nothing new: no second dispatch, however often it runs
    again = data_watch(config, workdir=tmp_path / "w")
    assert again.changed and not again.alert["dispatched"]
    assert "sent already" in again.alert["skipped"]
    assert len(fake_github.dispatches) == 1
    # a retraining on the new data records it: quiet again
    trained_on(path, str(bucket), b"v2")
    assert not data_watch(config, workdir=tmp_path / "w").changed


def test_fail_on_change_exits_1_and_no_training_exits_2(tmp_path, capsys):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (bucket / "a.csv").write_text(csv_text(10))
    path = project(tmp_path / "p", bucket)
    args = ["data-watch", "--config", str(path), "--workdir", str(tmp_path / "w")]
    assert main(args) == 2
    assert "no training recorded for model flowers in" in capsys.readouterr().err
    trained_on(path, str(bucket))
    (bucket / "a.csv").write_text(csv_text(11))
    assert main([*args, "--fail-on-change"]) == 1
    assert main(args) == 0  # a change is a finding, not a failure, unless asked


def test_the_cli_passes_source_target_and_no_alert(tmp_path, fake_github, capsys):
    bucket, other = tmp_path / "bucket", tmp_path / "other"
    for rows, folder in enumerate((bucket, other), start=10):
        folder.mkdir()
        (folder / "a.csv").write_text(csv_text(rows))
    path = project(tmp_path / "p", bucket)
    trained_on(path, str(other))
    args = ["data-watch", "--config", str(path), "--workdir", str(tmp_path / "w")]
    assert main([*args, "--source", str(other), "--target", "models", "--no-alert"]) == 0
    assert json.loads((tmp_path / "w/data-watch/result.json").read_text())["changed"] is False
    assert main([*args, "--no-alert"]) == 0  # data.source differs from what v1 was trained on
    assert json.loads((tmp_path / "w/data-watch/result.json").read_text())["changed"] is True
    assert fake_github.dispatches == []
    assert main([*args, "--target", "nope"]) == 2
    assert "no deploy target 'nope'" in capsys.readouterr().err


def test_a_version_trained_without_a_source_is_no_silent_pass(tmp_path):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (bucket / "a.csv").write_text(csv_text(10))
    path = project(tmp_path / "p", bucket)
    registry = Registry(tmp_path / "p" / "registry")
    (tmp_path / "m.onnx").write_bytes(b"x")
    registry.register("flowers", {"model.onnx": tmp_path / "m.onnx"}, {"sha256": "x"})
    with pytest.raises(UsageError, match="v1 was trained without data.source"):
        data_watch(load_config(path), workdir=tmp_path / "w")


# ---- train records and copies the source ------------------------------------------------------
def test_train_copies_the_source_and_records_its_listing(tmp_path):
    outside = tmp_path / "shared" / "train.csv"
    outside.parent.mkdir()
    outside.write_text(csv_text(90))
    path = project(tmp_path / "p", outside)
    result = train(load_config(path), workdir=tmp_path / "w")
    assert (tmp_path / "p/data/train.csv").read_text() == outside.read_text()
    assert result.lineage["source"] == listing(str(outside))
    assert result.lineage["source"]["files"]["train.csv"]["rows"] == 90


def test_a_glob_names_files_below_its_wildcard_whatever_matches(tmp_path):
    for folder in ("2031-05", "2031-06"):
        (tmp_path / "lake" / folder).mkdir(parents=True)
    (tmp_path / "lake/2031-05/a.csv").write_text(csv_text(4))
    before = listing(str(tmp_path / "lake/*/*.csv"))
    (tmp_path / "lake/2031-06/b.csv").write_text(csv_text(4))
    after = listing(str(tmp_path / "lake/*/*.csv"))
    assert list(before["files"]) == ["2031-05/a.csv"]
    assert compare(before, after)["added"] == ["2031-06/b.csv"]
    assert compare(before, after)["removed"] == []


def test_a_prefix_of_parquet_files_becomes_a_folder_and_of_csv_files_is_refused(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    for i in range(2):
        flowers(50, i).to_parquet(lake / f"part-{i}.parquet")
    path = project(tmp_path / "p", lake)
    path.write_text(path.read_text().replace("data/train.csv", "data/train"))
    result = train(load_config(path), workdir=tmp_path / "w")
    assert sorted(p.name for p in (tmp_path / "p/data/train").iterdir()) == [
        "part-0.parquet",
        "part-1.parquet",
    ]
    assert result.rows["train"] + result.rows["test"] == 100
    assert result.lineage["source"]["files"]["part-1.parquet"]["rows"] == 50
    (lake / "extra.csv").write_text(csv_text(3))
    with pytest.raises(DataError, match="3 data files; a source of several files must be Parquet"):
        train(load_config(path), workdir=tmp_path / "w")
    assert [p.name for p in (tmp_path / "p/data").iterdir()] == ["train"]  # nothing left over


def test_a_later_stage_on_a_fresh_machine_copies_the_source_the_same_job_reuses_it(tmp_path):
    outside = tmp_path / "shared" / "train.csv"
    outside.parent.mkdir()
    outside.write_text(csv_text(90))
    path = project(tmp_path / "p", outside)
    config = load_config(path)
    train(config, workdir=tmp_path / "w")
    copy = tmp_path / "p/data/train.csv"
    outside.write_text(csv_text(95))  # changes during the job: the gate judges the trained rows
    gate = evaluate_gate(config, workdir=tmp_path / "w")
    assert copy.read_text() == csv_text(90) and gate.passed
    copy.unlink()  # a job on another machine, with train's outputs as an artifact
    evaluate_gate(config, workdir=tmp_path / "w")
    assert copy.read_text() == csv_text(95)


# ---- S3 -----------------------------------------------------------------------------------------
@pytest.fixture
def s3(monkeypatch):
    with moto_server() as server:
        for key, value in {**S3_ENV, "AWS_ENDPOINT_URL": server.url}.items():
            monkeypatch.setenv(key, value)
        import boto3

        client = boto3.client("s3", endpoint_url=server.url)
        client.create_bucket(Bucket="lake")
        yield server, client


def test_s3_is_watched_by_etag_without_reading_an_object(tmp_path, s3, fake_github):
    server, client = s3
    for name, rows in (("a.csv", 40), ("b.csv", 50)):
        client.put_object(Bucket="lake", Key=f"flowers/{name}", Body=csv_text(rows).encode())
    client.put_object(Bucket="lake", Key="flowers-old/x.csv", Body=b"a,b\n1,2\n")  # a neighbour
    source = "s3://lake/flowers/"
    path = project(tmp_path / "p", source)
    trained_on(path, source)
    config = load_config(path)
    server.requests.clear()
    assert not data_watch(config, workdir=tmp_path / "w").changed
    client.put_object(Bucket="lake", Key="flowers/c.csv", Body=csv_text(5).encode())
    client.put_object(Bucket="lake", Key="flowers/a.csv", Body=csv_text(41).encode())
    server.requests.clear()
    found = data_watch(config, workdir=tmp_path / "w")
    assert found.changes["added"] == ["c.csv"] and found.changes["changed"] == ["a.csv"]
    assert found.changes["rows"] is None  # CSV rows in a bucket are not counted: no download
    bodies = [r for r in server.requests if r[0] == "GET" and r[1].startswith("/lake/flowers/")]
    assert bodies == [] and server.requests, server.requests
    entry = listing(source)["files"]["a.csv"]
    etag = client.head_object(Bucket="lake", Key="flowers/a.csv")["ETag"].strip('"')
    assert entry["hash"] == f"etag:{etag}"
    assert [d["client_payload"]["source"] for d in fake_github.dispatches] == [source]


def test_s3_parquet_rows_come_from_the_footer_alone(tmp_path, s3):
    server, client = s3
    frame = flowers(3000)
    frame.to_parquet(tmp_path / "f.parquet")
    client.put_object(Bucket="lake", Key="pq/f.parquet", Body=(tmp_path / "f.parquet").read_bytes())
    server.requests.clear()
    (entry,) = listing("s3://lake/pq/")["files"].values()
    assert entry["rows"] == 3000
    gets = [r for r in server.requests if r[0] == "GET" and r[1] == "/lake/pq/f.parquet"]
    assert gets and all(r[2] for r in gets), gets  # ranged reads of the tail only


def test_train_pulls_from_s3(tmp_path, s3):
    _, client = s3
    client.put_object(Bucket="lake", Key="flowers/train.csv", Body=csv_text(90).encode())
    path = project(tmp_path / "p", "s3://lake/flowers/train.csv")
    result = train(load_config(path), workdir=tmp_path / "w")
    assert (tmp_path / "p/data/train.csv").read_text() == csv_text(90)
    assert list(result.lineage["source"]["files"]) == ["train.csv"]


# ---- http ---------------------------------------------------------------------------------------
@pytest.fixture
def http_folder(tmp_path):
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_an_http_url_is_watched_by_head(tmp_path, http_folder, fake_github):
    folder, url = http_folder
    (folder / "train.csv").write_text(csv_text(30))
    os.utime(folder / "train.csv", (1_900_000_000, 1_900_000_000))
    source = f"{url}/train.csv?token=secret"
    path = project(tmp_path / "p", source)
    trained_on(path, source)
    recorded = listing(source)
    assert recorded["source"] == f"{url}/train.csv"  # no query string kept
    assert recorded["files"]["train.csv"]["hash"].startswith("modified:")
    config = load_config(path)
    assert not data_watch(config, workdir=tmp_path / "w").changed
    (folder / "train.csv").write_text(csv_text(31))
    os.utime(folder / "train.csv", (1_900_000_100, 1_900_000_100))
    assert data_watch(config, workdir=tmp_path / "w").changes["changed"] == ["train.csv"]
    assert len(fake_github.dispatches) == 1


# ---- write-once, outsiders --------------------------------------------------------------------
def test_a_lost_answer_sends_the_same_dispatch_id_and_no_second_dispatch(tmp_path, fake_github):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (bucket / "a.csv").write_text(csv_text(10))
    path = project(tmp_path / "p", bucket)
    registry = trained_on(path, str(bucket))
    config = load_config(path)
    (bucket / "a.csv").write_text(csv_text(12))
    fake_github.lose_answer("repos/create-dispatch-event")
    first = data_watch(config, workdir=tmp_path / "w")
    ids = {d["client_payload"]["dispatch_id"] for d in fake_github.dispatches}
    assert len(ids) == 1 and first.alert["dispatch_id"] in ids
    data_watch(config, workdir=tmp_path / "w")
    assert len({d["client_payload"]["dispatch_id"] for d in fake_github.dispatches}) == 1

    # a job that died after "sending": the next run sends again, with the recorded id
    (bucket / "a.csv").write_text(csv_text(14))
    fingerprint = listing(str(bucket))["sha256"]
    registry.record(
        "flowers",
        {
            "event": "data-updated",
            "fingerprint": fingerprint,
            "dispatch_id": "d-1",
            "state": "sending",
        },
    )
    before = len(fake_github.dispatches)
    assert data_watch(config, workdir=tmp_path / "w").alert["dispatched"]
    assert [d["client_payload"]["dispatch_id"] for d in fake_github.dispatches[before:]] == ["d-1"]


def test_an_outsiders_file_names_stay_inert(tmp_path, fake_github):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    (bucket / "a.csv").write_text(csv_text(10))
    path = project(tmp_path / "p", bucket)
    trained_on(path, str(bucket))
    evil = "a\n::error::pwned <!-- mlops --> [x](mailto:evil) @admin `code` #1"
    (bucket / f"{evil}.csv").write_text(csv_text(3))
    for i in range(MAX_PAYLOAD_FILES + 5):
        long = bucket / ("x" * 150) / f"{'y' * 150}{i:02d}.csv"  # 300 characters with the folder
        long.parent.mkdir(exist_ok=True)
        long.write_text(csv_text(2))
    result = data_watch(load_config(path), workdir=tmp_path / "w")
    summary = (tmp_path / "w/data-watch/summary.md").read_text()
    assert "<!--" not in summary and "](mailto" not in summary and "@admin" not in summary
    assert not any(line.startswith("::") for line in summary.splitlines())
    assert "… and 6 more" in summary
    (sent,) = fake_github.dispatches
    names = sent["client_payload"]["files"]["added"]
    assert len(names) == MAX_PAYLOAD_FILES and max(len(n) for n in names) == 200
    assert len(json.dumps(sent["client_payload"])) < 64_000
    assert result.changes["added"][0] == f"{evil}.csv"  # the data itself is kept as it is


def test_watching_another_url_than_the_one_trained_on_is_refused(tmp_path, s3):
    _, client = s3
    client.put_object(Bucket="lake", Key="flowers/a.csv", Body=csv_text(5).encode())
    path = project(tmp_path / "p", "s3://lake/flowers/")
    trained_on(path, "s3://lake/flowers/")
    with pytest.raises(UsageError, match="was trained from s3://lake/flowers/"):
        data_watch(load_config(path), workdir=tmp_path / "w", source="s3://lake/other/")
