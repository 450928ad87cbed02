"""What the multi-model templates rely on, simulated as on GitHub: a matrix of calls to a
reusable workflow, each leg running that workflow's jobs with its own typed inputs, the
called jobs' ``needs`` and outputs under the names their file uses, no permission or secret
beyond what the caller passes."""

from __future__ import annotations

from support.test_harness import only, simulate  # noqa: F401

CALLED = """
on:
  workflow_call:
    inputs:
      model:
        type: string
        required: true
      strict:
        type: boolean
        default: false
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    permissions:
      contents: read
    outputs:
      built: ${{ steps.b.outputs.built }}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - id: b
        env:
          MODEL: ${{ inputs.model }}
        run: echo "built=$MODEL-v1" >> "$GITHUB_OUTPUT"
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: outputs-${{ inputs.model }}
          path: call.py
  ship:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - env:
          BUILT: ${{ needs.build.outputs.built }}
          STRICT: ${{ inputs.strict }}
          JOB: ${{ github.job }}
          SECRET: ${{ secrets.DEPLOY_KEY }}
        run: |
          test "$JOB" = ship
          echo "shipped $BUILT strict=$STRICT secret=${SECRET:-none}"
"""


def _caller(permissions: str = "contents: read", secrets: str = "") -> str:
    return f"""
on: push
permissions: {{}}
jobs:
  models:
    runs-on: ubuntu-latest
    outputs:
      matrix: ${{{{ steps.m.outputs.matrix }}}}
    steps:
      - id: m
        run: echo 'matrix={{"include":[{{"name":"fraud"}},{{"name":"churn"}}]}}' >> "$GITHUB_OUTPUT"
  release:
    needs: models
    strategy:
      matrix: ${{{{ fromJSON(needs.models.outputs.matrix) }}}}
    permissions:
      {permissions}
    uses: ./.github/workflows/called.yml
    with:
      model: ${{{{ matrix.name }}}}
      strict: true
    {secrets}
  after:
    needs: release
    runs-on: ubuntu-latest
    steps:
      - env:
          RESULT: ${{{{ needs.release.result }}}}
        run: test "$RESULT" = success
"""


def test_a_matrix_of_calls_runs_the_called_jobs_once_per_leg(simulate):  # noqa: F811
    sim = simulate({"ci.yml": _caller(), "called.yml": CALLED}, secrets={"DEPLOY_KEY": "k"})
    sim.repo.commit("go")
    run = only(sim.push("main"))  # called.yml alone starts nothing: it has no event trigger
    assert run.conclusion == "success", run.log()
    assert [j for j in run.jobs if j.startswith("release/")] == [
        "release/0/build",
        "release/0/ship",
        "release/1/build",
        "release/1/ship",
    ]
    assert run.job("release/1/build").outputs == {"built": "churn-v1"}
    log = run.job("release/0/ship").run.log()
    assert "shipped fraud-v1 strict=true secret=none" in log  # no secret the caller did not pass
    assert sorted(run.artifacts) == ["outputs-churn", "outputs-fraud"]
    assert run.job("release/0/build").legs[0].permissions == {
        "contents": "read",
        "metadata": "read",
    }
    assert run.job("after").state == "success"


def test_secrets_inherit_passes_the_repositorys_secrets(simulate):  # noqa: F811
    sim = simulate(
        {"ci.yml": _caller(secrets="secrets: inherit"), "called.yml": CALLED},
        secrets={"DEPLOY_KEY": "k"},
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    assert run.conclusion == "success", run.log()
    assert "secret=k" in run.job("release/1/ship").run.log()


def test_a_called_job_asking_for_more_than_the_caller_holds_fails_the_call(simulate):  # noqa: F811
    sim = simulate(
        {
            "ci.yml": _caller(),
            # the second job asks for more: the first, which may, does not run either
            "called.yml": CALLED.replace(
                "  ship:\n    needs: build\n",
                "  ship:\n    needs: build\n    permissions:\n      contents: write\n",
            ),
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    assert run.conclusion == "failure"
    release = run.job("release")
    assert "'ship' is requesting contents: write" in release.note
    assert not [j for j in run.jobs if j.startswith("release/")]  # nothing ran
    assert run.job("after").state == "skipped"
