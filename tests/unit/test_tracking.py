"""Where runs go and how their link is shown; no tracker needed (tests/stages/test_tracking.py
logs to a real one)."""

from __future__ import annotations

import re
import sys
from types import SimpleNamespace

import cmarkgfm
import pytest

from mlops_actions.config import load_config
from mlops_actions.errors import ConfigError
from mlops_actions.reports import render
from mlops_actions.tracking import INSTALL_HINT, log_run, run_link, tracker
from support import EXAMPLES


@pytest.fixture
def penguins():
    return EXAMPLES / "penguins" / "mlops.yaml"


def test_off_unless_the_environment_or_the_config_names_a_tracker(penguins, monkeypatch):
    assert tracker(load_config(penguins)) is None
    assert log_run(load_config(penguins), stage="train") is None

    configured = load_config(penguins, ["tracking.uri=https://config.example"])
    assert tracker(configured).uri == "https://config.example"
    assert tracker(configured).experiment == "penguins-species"  # the model's name

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://env.example")
    assert tracker(load_config(penguins)).uri == "https://env.example"
    # the workflow that holds the tracker's credentials decides where they go
    assert tracker(configured).uri == "https://env.example"


def test_a_folder_in_the_config_is_relative_to_it(penguins):
    config = load_config(penguins, ["tracking.uri=mlruns", "tracking.experiment=exp"])
    assert config.tracking.uri == (penguins.parent / "mlruns").resolve().as_uri()
    assert config.tracking.experiment == "exp"


def test_a_wrong_tracking_block_is_one_line_naming_the_key(penguins):
    with pytest.raises(ConfigError) as info:
        load_config(penguins, ["tracking.url=https://x.example"])
    assert "unknown key 'tracking.url' (did you mean 'uri'?)" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(penguins, ["tracking.uri=5"])
    assert "tracking.uri must be a string, got 5" in str(info.value)


def test_without_the_client_it_warns_how_to_install_it(penguins, monkeypatch, capsys):
    for name in ("mlflow", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    config = load_config(penguins, ["tracking.uri=https://user:secret@mlflow.example"])
    assert log_run(config, stage="train", metrics={"accuracy": 1.0}) is None
    err = capsys.readouterr().err
    assert "warning: tracking: https://mlflow.example is configured" in err and INSTALL_HINT in err
    assert "secret" not in err


def test_the_link_drops_credentials_and_cannot_break_out_of_markdown():
    uri = "https://user:pw@mlflow.example:5000/base) [x](https://evil.example `<b>"
    url = run_link(uri, "3", "abc")
    assert url.startswith("https://mlflow.example:5000/base%29%20%5Bx%5D%28https://evil")
    assert url.endswith("/#/experiments/3/runs/abc") and "pw" not in url
    assert run_link("file:///tmp/mlruns", "3", "abc") is None  # no UI to link to

    tracking = {"run_id": "abc*_[x](y)", "url": url, "uri": uri}
    html = cmarkgfm.github_flavored_markdown_to_html(
        render("_tracking.md.j2", r=SimpleNamespace(tracking=tracking))
    )
    assert re.findall(r'href="([^"]*)"', html) == [url.replace("&", "&amp;")]
    assert "abc*_[x](y)" in html.replace("\\", "")  # the run id shown as text
