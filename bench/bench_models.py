"""`mlops models` over 200 model configs in one repository: discovery, and change detection for
a pull request that touches one shared file read by 3 of them. The peer is `git ls-files`, the
floor of any discovery: listing the repository's files at all."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import command_seconds, report

MODELS, SHARED_BY = 200, 3
CONFIG = """\
name: model-{i:03d}
task: classification
data: {{train: {train}, target: y, schema: schema.yaml}}
model: {{estimator: sklearn.linear_model.LogisticRegression}}
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


with tempfile.TemporaryDirectory() as tmp:
    repo = Path(tmp)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "shared").mkdir()
    (repo / "shared" / "customers.csv").write_text("y\n1\n")
    for i in range(MODELS):
        folder = repo / "models" / f"m{i:03d}"
        (folder / "data").mkdir(parents=True)
        train = "../../shared/customers.csv" if i < SHARED_BY else "data/train.csv"
        (folder / "mlops.yaml").write_text(CONFIG.format(i=i, train=train))
        (folder / "schema.yaml").write_text("# schema\n")
        (folder / "data" / "train.csv").write_text("y\n1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "200 models")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "shared" / "customers.csv").write_text("y\n2\n")
    git(repo, "commit", "-qam", "one shared file")

    mlops = str(Path(sys.executable).with_name("mlops"))
    matrix = subprocess.run(
        [mlops, "models", "--root", str(repo), "--changed-since", "main"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    size = len(json.loads(matrix)["include"])
    print(f"matrix size for a PR touching one file shared by {SHARED_BY} of {MODELS}: {size}")
    floor = command_seconds(["git", "-C", str(repo), "ls-files"], repeat=7)
    every = command_seconds([mlops, "models", "--root", str(repo)], repeat=7)
    changed = command_seconds(
        [mlops, "models", "--root", str(repo), "--changed-since", "main"], repeat=7
    )
    met = report(f"mlops models, {MODELS} configs", every, "git ls-files", floor)
    met &= report(f"mlops models --changed-since, {MODELS} configs", changed, "git ls-files", floor)
raise SystemExit(0 if size == SHARED_BY and met else 1)
