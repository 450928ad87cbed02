"""Training data in a bucket (issue 17, part 4), as a team lives it: the penguins example with
its training file in S3 (moto's server on 127.0.0.1, credentials in the runner's environment as
a self-hosted runner holds them) instead of git, ``data.source`` naming it, and the copy-ready
``workflows/ml-data-watch.yml`` added to the repository. The workflows run verbatim on the
simulated GitHub (``support.harness``).

(h) a release trains on the bucket's file and records its listing; the nightly watch finds no
change and sends nothing; rows land in the bucket; the next nightly sends one ``data-updated``,
which starts ml-retrain.yml, which trains on the new file; the nightly after sends nothing.
"""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime

import pytest

from e2e.test_stories import action_outputs, only, release, succeeded
from support import REPO
from support.harness import Clock, Simulation, UserRepository
from support.s3 import S3_ENV, moto_server

WATCH = "47 5 * * *"  # ml-data-watch.yml's schedule
SOURCE = "s3://lake/penguins/train.csv"


@pytest.fixture
def bucket():
    with moto_server() as server:
        import boto3

        client = boto3.client("s3", endpoint_url=server.url, **_credentials())
        client.create_bucket(Bucket="lake")
        yield server, client


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENV["AWS_DEFAULT_REGION"],
    }


@pytest.mark.slow
def test_h_data_changed_in_the_bucket_retrains_once(tmp_path, fake_github, bucket):
    server, client = bucket
    folder = tmp_path / "penguins"
    shutil.copytree(REPO / "examples" / "penguins", folder)
    train_csv = folder / "data" / "train.csv"
    client.put_object(Bucket="lake", Key="penguins/train.csv", Body=train_csv.read_bytes())
    train_csv.unlink()  # the training data is no longer in git
    config = folder / "mlops.yaml"
    config.write_text(
        config.read_text().replace(
            "  train: data/train.csv\n", f"  train: data/train.csv\n  source: {SOURCE}\n"
        )
    )
    (folder / ".github/workflows").mkdir(exist_ok=True)
    shutil.copy(REPO / "workflows/ml-data-watch.yml", folder / ".github/workflows")
    clock = Clock(datetime(2031, 6, 2, 5, 47, tzinfo=UTC))
    repo = UserRepository.from_folder(
        tmp_path / "repo", folder, full_name=fake_github.repository, now=clock.now
    )
    sim = Simulation(
        tmp_path / "github",
        repo,
        fake_github,
        clock=clock,
        runner_env={**S3_ENV, "AWS_ENDPOINT_URL": server.url},
    )

    first = action_outputs(release(sim), "production", "deploy")
    assert first["version"] == "1"

    # the nightly watch: the bucket holds what version 1 was trained on
    sim.clock.advance(days=1)
    calm = only(sim.schedule(WATCH), "ml-data-watch.yml")
    succeeded(calm)
    assert action_outputs(calm, "data-watch", "data-watch")["changed"] == "false"
    assert fake_github.dispatches == [] and sim.runs[-1] is calm

    # the field team uploads this season's birds
    client.put_object(Bucket="lake", Key="penguins/train.csv", Body=_with_new_birds(client, 40))
    sim.clock.advance(days=1)
    watch = only(sim.schedule(WATCH), "ml-data-watch.yml")
    succeeded(watch)
    outputs = action_outputs(watch, "data-watch", "data-watch")
    assert (outputs["changed"], outputs["dispatched"], outputs["files-changed"]) == (
        "true",
        "true",
        "1",
    )
    (sent,) = fake_github.dispatches
    assert sent["event_type"] == "data-updated"
    payload = sent["client_payload"]
    assert (payload["model"], payload["source"], payload["trained_version"]) == (
        "penguins-species",
        SOURCE,
        1,
    )
    assert payload["files"]["changed"] == ["train.csv"]
    retrain = only(sim.runs, "ml-retrain.yml")
    assert (retrain.event_name, retrain.waiting_for) == ("repository_dispatch", ["production"]), (
        retrain.log()
    )
    sim.approve(retrain, "production")
    succeeded(retrain)
    second = action_outputs(retrain, "production", "deploy")
    assert (second["version"], second["previous-version"]) == ("2", "1")
    # trained on the bucket's new file: 40 more training rows than version 1
    assert _train_rows(retrain) == _train_rows(only(sim.runs, "ml-release.yml")) + 40
    card = retrain.artifacts["mlops-outputs"].files()["package-onnx/model-card.md"].decode()
    assert "copied from <code>s3\\://lake/penguins/train\\.csv</code>: 1 file(s)" in card

    # the next nightly: version 2 was trained on this data; nothing is sent again
    sim.clock.advance(days=1)
    quiet = only(sim.schedule(WATCH), "ml-data-watch.yml")
    succeeded(quiet)
    assert action_outputs(quiet, "data-watch", "data-watch")["changed"] == "false"
    assert len(fake_github.dispatches) == 1


def _with_new_birds(client, count: int) -> bytes:
    """The bucket's file with ``count`` more birds, each measured a little differently from the
    bird it resembles (validate-data rejects repeated rows)."""
    import pandas as pd

    body = client.get_object(Bucket="lake", Key="penguins/train.csv")["Body"].read()
    frame = pd.read_csv(io.BytesIO(body))
    new = frame.dropna().head(count).copy()
    new["bill_length_mm"] += 0.1
    new["body_mass_g"] += 10
    return pd.concat([frame, new]).to_csv(index=False).encode()


def _train_rows(run) -> int:
    result = json.loads(run.artifacts["mlops-outputs"].files()["train/result.json"])
    return result["rows"]["train"]
