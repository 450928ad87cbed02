"""What ml-tune.yml relies on, simulated as on GitHub: a matrix read with ``fromJSON`` from an
earlier job's output, the 256-job limit, and downloading artifacts by ``pattern`` (each into
its own folder, or merged)."""

from __future__ import annotations

import json

from support.test_harness import DOWNLOAD, UPLOAD, only, outputs, simulate  # noqa: F401


def test_a_matrix_from_an_earlier_jobs_json_output(simulate):  # noqa: F811
    plan = {"include": [{"trial": "t1", "set": "a=1\nb=2"}, {"trial": "t2", "set": "a=3"}]}
    sim = simulate(
        {
            "ci.yml": f"""
            on: push
            permissions: {{}}
            jobs:
              plan:
                runs-on: ubuntu-latest
                outputs:
                  matrix: ${{{{ steps.p.outputs.matrix }}}}
                steps:
                  - id: p
                    env:
                      PLAN: '{json.dumps(plan)}'
                    run: echo "matrix=$PLAN" >> "$GITHUB_OUTPUT"
              legs:
                needs: plan
                runs-on: ubuntu-latest
                strategy:
                  matrix: ${{{{ fromJSON(needs.plan.outputs.matrix) }}}}
                steps:
                  - env:
                      SET: ${{{{ matrix.set }}}}
                      TRIAL: ${{{{ matrix.trial }}}}
                    run: test "$(wc -l <<<"$SET")" -ge 1 && echo "$TRIAL"
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    assert run.conclusion == "success", run.log()
    assert [leg.matrix for leg in run.job("legs").legs] == plan["include"]


def test_more_than_256_jobs_fail_the_job_before_any_leg_runs(simulate):  # noqa: F811
    sim = simulate(
        {
            "ci.yml": """
            on: push
            permissions: {}
            jobs:
              wide:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
                    b: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
                    include:
                      - {a: 0, b: 0}
                steps:
                  - run: true
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    job = run.job("wide")
    assert (job.state, job.legs) == ("failure", [])
    assert "257 job configurations, more than the maximum of 256" in job.note


def test_download_by_pattern_into_a_folder_each_or_merged(simulate):  # noqa: F811
    sim = simulate(
        {
            "ci.yml": f"""
            on: push
            permissions: {{}}
            jobs:
              up:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    trial: [trial-1, trial-2]
                steps:
                  - env:
                      TRIAL: ${{{{ matrix.trial }}}}
                    run: mkdir out && echo "$TRIAL" > "out/$TRIAL.txt"
                  - uses: {UPLOAD}
                    with:
                      name: ${{{{ matrix.trial }}}}
                      path: out
                  - uses: {UPLOAD}
                    with:
                      name: other-${{{{ matrix.trial }}}}
                      path: out
              down:
                needs: up
                runs-on: ubuntu-latest
                steps:
                  - uses: {DOWNLOAD}
                    with:
                      pattern: trial-*
                      path: each
                  - uses: {DOWNLOAD}
                    with:
                      pattern: trial-*
                      path: merged
                      merge-multiple: true
                  - run: |
                      test "$(cat each/trial-1/trial-1.txt each/trial-2/trial-2.txt)" = "trial-1
                      trial-2"
                      test "$(ls each)" = "trial-1
                      trial-2"
                      test "$(ls merged)" = "trial-1.txt
                      trial-2.txt"
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    outputs(run, "down")
