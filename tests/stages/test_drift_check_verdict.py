"""One drift verdict from every signal (issue 14, part 2): feature drift share, target drift,
prediction drift and performance, each by its own rule; too little data is no verdict.

The label-shift case is real data: the penguins example's 2009 birds (``live.csv``) with most
Adelie left out, so the species mix moves while each species' measurements stay as they were.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mlops_actions.cli import main
from mlops_actions.config import load_config
from mlops_actions.drift.verdict import decide, signal
from mlops_actions.stages.drift_check import drift_check
from support import EXAMPLES, copy_example
from support.packaged_model import packaged_penguins

PENGUINS = EXAMPLES / "penguins"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory):
    return packaged_penguins(tmp_path_factory.mktemp("packaged"))


def label_shift(project: Path, path: Path) -> Path:
    """Adelie 12, Chinstrap 24, Gentoo 24 of the 2009 birds (the reference: 45%, 20%, 36%)."""
    live = pd.read_csv(project / "data/live.csv")
    keep = {"Adelie": 12, "Chinstrap": 24, "Gentoo": 24}
    parts = [live[live.species == s].sample(n, random_state=0) for s, n in keep.items()]
    pd.concat(parts).to_csv(path, index=False)
    return path


def run(project, current, *overrides, workdir, reference=None, **kwargs):
    config = load_config(project / "mlops.yaml", list(overrides))
    return drift_check(config, workdir=workdir, current=str(current), reference=reference, **kwargs)


def by_name(result) -> dict:
    return {s["name"]: s for s in result.signals}


def test_label_shift_is_drift_though_few_features_drifted(packaged, tmp_path):
    """Today's verdict was the feature share alone: "✅ No dataset drift" and exit 0 here."""
    project, model, _ = packaged
    current = label_shift(project, tmp_path / "shifted.csv")
    args = ["drift-check", "--config", str(project / "mlops.yaml"), "--no-alert"]
    args += ["--current", str(current), "--reference", str(model), "--workdir", str(tmp_path / "w")]
    assert main([*args, "--fail-on-drift"]) == 1
    saved = json.loads((tmp_path / "w/drift-check/result.json").read_text())
    assert saved["status"] == "drift" and saved["drift"] is True and saved["passed"] is False
    assert saved["dataset_drift"] is False and saved["drift_share"] < 0.5  # features: 2 of 6
    signals = {s["name"]: s for s in saved["signals"]}
    assert [n for n, s in signals.items() if s["fired"]] == ["target", "predictions"]
    assert signals["target"]["detail"].startswith("chi-square")
    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert summary.startswith("## 🚨 Drift detected")
    assert re.search(r"\| target drift \|.*\| 🔴 drift \|", summary)
    assert re.search(r"\| feature drift \|.*2 of 6 drifted.*\| ✅ no \|", summary)
    html = (tmp_path / "w/drift-check/report.html").read_text()
    assert '<span class="drift">Drift detected</span>' in html and "No drift" not in html
    assert main(args) == 0  # without --fail-on-drift the same verdict is a finding


def test_each_signal_has_its_own_rule(packaged, tmp_path):
    project, model, _ = packaged
    current = label_shift(project, tmp_path / "shifted.csv")
    quiet = run(
        project,
        current,
        "drift.verdict.target=false",
        "drift.verdict.predictions=false",
        workdir=tmp_path / "a",
        reference=model,
        fail_on_drift=True,
    )
    assert quiet.status == "no_drift" and quiet.passed  # shown, but deciding nothing
    assert by_name(quiet)["target"]["fired"] and not by_name(quiet)["target"]["decides"]
    summary = (tmp_path / "a/drift-check/summary.md").read_text()
    assert summary.startswith("## ✅ No drift") and "`drift.verdict.target` is false" in summary
    any_feature = run(
        project,
        current,
        "drift.verdict.target=false",
        "drift.verdict.predictions=false",
        "drift.verdict.features=any",
        workdir=tmp_path / "b",
        reference=model,
    )
    assert any_feature.status == "drift" and [s["name"] for s in any_feature.fired] == ["features"]


def test_combined_verdict_sends_the_alert(packaged, tmp_path, fake_github):
    project, model, _ = packaged
    current = label_shift(project, tmp_path / "shifted.csv")
    result = run(project, current, workdir=tmp_path / "w", reference=model)
    assert not result.dataset_drift and result.alerts["dispatched"]
    (sent,) = fake_github.dispatches
    assert sent["client_payload"]["signals"] == ["target", "predictions"]
    (issue,) = [i for i in fake_github.issues.values() if i["state"] == "open"]
    assert "Drift detected" in issue["body"]


def test_too_little_data_is_no_verdict(project_copy, tmp_path, fake_github):
    """20 Biscoe birds drift on every count, but 20 rows are no evidence: exit 0 even with
    --fail-on-drift, no dispatch, and the open alert issue is neither updated nor closed."""
    biscoe = pd.read_csv(project_copy / "data/train.csv").query("island == 'Biscoe'")
    biscoe.head(20).to_csv(tmp_path / "few.csv", index=False)
    args = ["drift-check", "--config", str(project_copy / "mlops.yaml"), "--fail-on-drift"]
    args += ["--current", str(tmp_path / "few.csv"), "--workdir", str(tmp_path / "w")]
    assert main([*args, "--set", "drift.min_rows=10"]) == 1  # drift.min_rows sets the bar
    (issue,) = fake_github.issues.values()
    assert len(fake_github.dispatches) == 1 and issue["state"] == "open"

    assert main(args) == 0
    saved = json.loads((tmp_path / "w/drift-check/result.json").read_text())
    assert saved["status"] == "not_enough_data" and saved["drift"] is False
    assert saved["min_rows"] == 30 and "not enough data" in saved["alerts"]["skipped"]
    assert len(fake_github.dispatches) == 1 and issue["state"] == "open"
    assert fake_github.comments_on(issue["number"]) == []
    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert summary.startswith("## ⚪ Not enough data") and "🔴 drift" not in summary
    html = (tmp_path / "w/drift-check/report.html").read_text()
    assert "Not enough data</span>" in html


def test_too_few_labels_leave_target_drift_unchecked(project_copy, tmp_path):
    frame = pd.read_csv(project_copy / "data/live.csv")
    frame.loc[frame.index[10:], "species"] = None  # 10 labelled rows of 120
    frame.to_csv(tmp_path / "few-labels.csv", index=False)
    result = run(project_copy, tmp_path / "few-labels.csv", workdir=tmp_path / "w")
    target = by_name(result)["target"]
    assert not target["checked"] and not target["fired"]
    assert target["detail"] == "10 labelled rows, fewer than drift.min_rows (30)"
    assert result.status == "no_drift"


def test_columns_show_statistic_and_p_value_under_their_names(project_copy, tmp_path):
    """The column once headed "statistic" held p-values; now each number has its name and the
    threshold shows what it is compared with."""
    result = run(
        project_copy,
        project_copy / "data/live.csv",
        'drift.columns={"body_mass_g": {"stattest": "wasserstein", "threshold": 0.2}}',
        workdir=tmp_path / "w",
    )
    summary = (tmp_path / "w/drift-check/summary.md").read_text()
    assert "| column | test | statistic | p-value | drift when | drifted | effect size |" in summary
    bill = next(c for c in result.columns if c["column"] == "bill_length_mm")
    assert bill["statistic_name"] == "KS D" and bill["score"] == bill["p_value"]
    row = next(line for line in summary.splitlines() if "bill\\_length\\_mm" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2] == f"KS D {bill['statistic']:.4g}" and cells[3] == f"{bill['p_value']:.4g}"
    assert cells[4] == "p-value ≤ 0.05"
    row = next(line for line in summary.splitlines() if "body\\_mass\\_g" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[2].startswith("normed Wasserstein distance") and cells[3] == "—"
    assert cells[4] == "distance ≥ 0.2"


def test_decide_needs_min_rows_and_a_deciding_signal():
    fired_report_only = signal("target", "rule", False, True, True, "")
    fired = signal("predictions", "rule", True, True, True, "")
    assert decide([fired_report_only], rows=100, min_rows=30) == "no_drift"
    assert decide([fired_report_only, fired], rows=100, min_rows=30) == "drift"
    assert decide([fired], rows=29, min_rows=30) == "not_enough_data"


@pytest.fixture
def project_copy(tmp_path):
    copy_example("penguins", tmp_path / "penguins")
    return tmp_path / "penguins"
