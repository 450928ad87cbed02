"""The packaged test sample is configurable down to no rows, and a deploy that publishes the
file (a GitHub release asset) warns that the rows go with it (issue 14, part 7)."""

from __future__ import annotations

import json

import pytest

from mlops_actions.errors import ModelError
from mlops_actions.model import OnnxModel
from mlops_actions.stages.deploy import deploy
from mlops_actions.stages.package_onnx import package_onnx
from support.gate import make_rows, trained

TARGETS = {
    "targets": {
        "local": {"type": "registry", "url": "registry"},
        "releases": {"type": "github-release"},
        "web": {"type": "http", "url": "http://127.0.0.1:9", "registry": "local"},
    }
}


def packaged(tmp_path, rows: int):
    make_rows(200, 1).to_csv(tmp_path / "train.csv", index=False)
    make_rows(60, 2).to_csv(tmp_path / "test.csv", index=False)
    settings = {"test_sample_rows": rows, "measure_latency": False}
    config, workdir = trained(tmp_path, "w", deploy=TARGETS, package=settings)
    return config, workdir, package_onnx(config, workdir=workdir).model_path


def test_no_test_rows_packages_and_deploys_with_the_replay_skipped(tmp_path):
    config, workdir, model = packaged(tmp_path, 0)
    assert OnnxModel(model).meta("test_sample")["rows"] == []
    result = deploy(config, workdir=workdir, target="local", alias="staging")
    assert result.passed and result.checks["replay"] == {"rows": 0, "matched": None, "atol": 1e-4}
    assert "skipped: packaged with no test rows" in result.summary_markdown()


def test_an_http_target_needs_test_rows_to_smoke_test_with(tmp_path):
    config, workdir, _ = packaged(tmp_path, 0)
    with pytest.raises(ModelError, match="no test rows.*smoke-tests"):
        deploy(config, workdir=workdir, target="web", alias="staging")
    assert not (tmp_path / "registry").exists()  # refused before anything moved


@pytest.mark.parametrize(("rows", "warned"), [(5, True), (0, False)])
def test_a_release_asset_carrying_test_rows_is_a_warning(tmp_path, fake_github, rows, warned):
    config, workdir, model = packaged(tmp_path, rows)
    result = deploy(config, workdir=workdir, target="releases", alias="staging")
    assert result.passed
    (asset,) = [a for a in fake_github.assets.values() if a["name"] == "model.onnx"]
    assert asset["size"] == model.stat().st_size  # the file, rows and all, is published
    if warned:
        (warning,) = result.warnings
        assert "release asset" in warning and "5 raw test rows" in warning
        assert "package.test_sample_rows: 0" in warning
        saved = json.loads((workdir / "deploy" / "result.json").read_text())
        assert saved["warnings"] == [warning]
        assert result.annotations() == [{"level": "warning", "message": warning}]
    else:
        assert result.warnings == []
