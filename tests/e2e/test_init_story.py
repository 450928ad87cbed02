"""From a data file to a level-3 repository in one command (issue 17 part 1), as a user lives
it: ``mlops init`` on data it has never seen, one commit, and the generated workflows run by
the simulated GitHub (every job on a fresh machine): the push releases through staging and an
approval to production, and the next pull request is gated against production."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from support.harness import Clock, Simulation, UserRepository

DATASETS = {  # scikit-learn's bundled data, never seen by the examples or by init's tests
    "breast-cancer": ("load_breast_cancer", "target"),
    "wine": ("load_wine", "target"),
}


def only(runs, workflow: str):
    mine = [run for run in runs if run.file == workflow]
    assert len(mine) == 1, [(run.file, run.event_name) for run in runs]
    return mine[0]


@pytest.mark.slow
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_init_then_one_commit_gives_a_repository_that_releases_and_gates(
    dataset, tmp_path, fake_github, mlops
):
    import sklearn.datasets

    loader, target = DATASETS[dataset]
    data = tmp_path / "data"
    data.mkdir()
    getattr(sklearn.datasets, loader)(as_frame=True).frame.to_csv(
        data / f"{dataset}.csv", index=False
    )
    clock = Clock(datetime(2031, 6, 2, 6, 17, tzinfo=UTC))
    repo = UserRepository.from_folder(
        tmp_path / "repo", tmp_path / "data", full_name=fake_github.repository, now=clock.now
    )
    sim = Simulation(tmp_path / "github", repo, fake_github, clock=clock)
    (repo.work / f"{dataset}.csv").rename(repo.work / "train.csv")

    made = mlops(
        "init", "--data", "train.csv", "--target", target, "--name", dataset, cwd=repo.work
    )
    assert made.returncode == 0, made.stderr
    assert "cross-validated" in made.stdout and "git add -A" in made.stdout
    repo.commit(f"ML project {dataset} (mlops init)")

    release = only(sim.push("main"), "ml-release.yml")
    assert release.waiting_for == ["production"], release.log()
    sim.approve(release, "production")
    assert release.conclusion == "success", release.log()

    repo.branch("fewer-rows")
    header, *rows = (repo.work / "train.csv").read_text().splitlines(keepends=True)
    repo.write("train.csv", header + "".join(r for i, r in enumerate(rows) if i % 10))
    repo.commit("drop every tenth row")
    number, runs = sim.open_pull_request("fewer-rows")
    pull = only(runs, "ml-pull-request.yml")
    assert pull.conclusion == "success", pull.log()
    (comment,) = fake_github.comments_on(number)
    assert "**Baseline:** registry" in comment["body"], comment["body"]
