"""The action harness follows the runner's rules; checked on small actions written here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from support.harness import (
    Clock,
    HarnessError,
    Runner,
    Simulation,
    UserRepository,
    condition,
    evaluate,
    interpolate,
    parse_command_file,
)

STATUS = {
    "success": lambda: True,
    "failure": lambda: False,
    "always": lambda: True,
    "cancelled": lambda: False,
}


def write_action(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "action.yml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("'abc' == 'ABC'", True),  # strings compare case-insensitively
        ("'1' == 1", True),  # mixed types coerce to numbers
        ("'' == 0", True),
        ("null == 0", True),
        ("inputs.flag == 'true' && 'yes' || 'no'", "yes"),  # && and || return operands
        ("inputs.empty || 'fallback'", "fallback"),
        ("!inputs.empty", True),
        ("steps.a.outputs['drift-share'] >= 0.5", True),
        ("contains(fromJSON('[\"x\", \"y\"]'), 'Y')", True),
        ("startsWith(github.ref, 'refs/heads/')", True),
        ("format('{0}-v{1}', 'm', 3)", "m-v3"),
    ],
)
def test_expressions_follow_github_semantics(expression, expected):
    contexts = {
        "inputs": {"flag": "true", "empty": ""},
        "steps": {"a": {"outputs": {"drift-share": "0.6"}}},
        "github": {"ref": "refs/heads/main"},
    }
    assert evaluate(expression, contexts) == expected


def test_if_implies_success_unless_a_status_function_is_named():
    failed = {**STATUS, "success": lambda: False, "failure": lambda: True}
    assert condition("true", {}, STATUS)
    assert not condition("true", {}, failed)
    assert condition("${{ always() }}", {}, failed)
    assert condition("failure()", {}, failed)
    assert not condition("!cancelled() && false", {}, STATUS)
    assert condition("${{ false }} && false", {}, STATUS)  # the runner's gotcha: a non-empty string


def test_interpolation_in_text_and_unknown_context():
    assert (
        interpolate("git:origin/${{ github.base_ref }}!", {"github": {"base_ref": "main"}})
        == "git:origin/main!"
    )
    with pytest.raises(ValueError, match="unknown context"):
        evaluate("secrets.X", {"github": {}})


def test_command_files_with_heredoc_values():
    text = "a=1\nmulti<<ghadelimiter_x\nline 1\nline 2\nghadelimiter_x\nb=x=y\n"
    assert parse_command_file(text) == {"a": "1", "multi": "line 1\nline 2", "b": "x=y"}


def test_composite_action_wiring(tmp_path):
    """inputs + defaults, env, outputs, GITHUB_ENV, summary, working-directory, if:, action_path."""
    action = write_action(
        tmp_path / "act",
        """
        name: t
        description: t
        inputs:
          who: {description: d, required: true}
          greeting: {description: d, default: hello}
        outputs:
          said: {description: d, value: "${{ steps.say.outputs.said }}"}
          where: {description: d, value: "${{ steps.say.outputs.where }}"}
          cleanup: {description: d, value: "${{ steps.cleanup.outputs.ran }}"}
        runs:
          using: composite
          steps:
            - id: say
              shell: bash
              working-directory: sub
              env:
                WHO: ${{ inputs.who }}
                GREETING: ${{ inputs.greeting }}
                HOME_OF_ACTION: ${{ github.action_path }}
              run: |
                echo "said=$GREETING, $WHO" >> "$GITHUB_OUTPUT"
                echo "where=$(basename "$PWD") $([ "$HOME_OF_ACTION" = "$GITHUB_ACTION_PATH" ] && echo same)" >> "$GITHUB_OUTPUT"
                echo "LEAKED=1" >> "$GITHUB_ENV"
                echo "# hi" >> "$GITHUB_STEP_SUMMARY"
            - id: boom
              shell: bash
              run: exit 3
            - id: after
              shell: bash
              run: echo never
            - id: cleanup
              if: always()
              shell: bash
              run: echo "ran=$LEAKED" >> "$GITHUB_OUTPUT"
        """,
    )
    (tmp_path / "ws" / "sub").mkdir(parents=True)
    run = Runner(tmp_path / "ws").run_action(action, {"who": "$(rm -rf /) world"})
    assert run.outputs["said"] == "hello, $(rm -rf /) world"  # an input is data, never code
    assert run.outputs["where"] == "sub same"
    assert run.summary == "# hi\n"
    assert run.env_written == {"LEAKED": "1"}
    assert [(s.id, s.status) for s in run.steps] == [
        ("say", "success"),
        ("boom", "failure"),
        ("after", "skipped"),
        ("cleanup", "success"),
    ]
    assert run.step("boom").exit_code == 3
    assert run.outputs["cleanup"] == "1"  # GITHUB_ENV reaches later steps
    assert run.status == "failure"


def test_inputs_are_checked_like_the_runner(tmp_path):
    action = write_action(
        tmp_path / "act",
        """
        name: t
        description: t
        inputs:
          need: {description: d, required: true}
        runs: {using: composite, steps: []}
        """,
    )
    runner = Runner(tmp_path)
    with pytest.raises(HarnessError, match="required input 'need'"):
        runner.run_action(action, {})
    with pytest.raises(HarnessError, match=r"no input\(s\) \['typo'\]"):
        runner.run_action(action, {"need": "x", "typo": "y"})


def test_unknown_third_party_action_is_refused(tmp_path):
    with pytest.raises(HarnessError, match="only this repository's actions"):
        Runner(tmp_path).resolve("someone/else@v1")


def test_workflow_job_wiring(tmp_path):
    """Job env, defaults.run, needs, secrets, workflow_call input defaults, matrix, job outputs."""
    workflow = tmp_path / "wf.yml"
    workflow.write_text(
        textwrap.dedent(
            """
            on:
              workflow_call:
                inputs:
                  greeting: {type: string, default: hi}
            env:
              TOP: top
            jobs:
              second:
                runs-on: ubuntu-latest
                needs: first
                env:
                  FROM_FIRST: ${{ needs.first.outputs.value }}
                defaults:
                  run:
                    working-directory: sub
                outputs:
                  said: ${{ steps.say.outputs.said }}
                steps:
                  - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
                  - id: say
                    env:
                      GREETING: ${{ inputs.greeting }}
                      SECRET: ${{ secrets.API_KEY }}
                    run: echo "said=$GREETING $TOP $FROM_FIRST $SECRET ${{ matrix.size }} $(basename "$PWD")" >> "$GITHUB_OUTPUT"
            """
        )
    )
    (tmp_path / "sub").mkdir()
    runner = Runner(tmp_path, secrets={"API_KEY": "k"})
    run = runner.run_job(
        workflow, "second", needs={"first": {"outputs": {"value": "v"}}}, matrix={"size": 3}
    )
    assert run.ok, run.log()
    assert run.steps[0].status == "skipped-tool"  # alone, a runner has no GitHub to clone from
    assert run.outputs == {"said": "hi top v k 3 sub"}


# ---- the simulated GitHub: runs, machines, artifacts, tokens ----------------------------------
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2"
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0"
CACHE = "actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3"
CALL_API = '''\
"""call.py METHOD PATH [JSON]: one GitHub API call with $TOKEN; prints the status and message."""
import json, os, sys
import requests
method, path = sys.argv[1], sys.argv[2]
url = f"{os.environ['GITHUB_API_URL']}/repos/{os.environ['GITHUB_REPOSITORY']}{path}"
answer = requests.request(
    method, url, json=json.loads(sys.argv[3]) if len(sys.argv) > 3 else None, timeout=30,
    headers={"Authorization": f"Bearer {os.environ['TOKEN']}", "User-Agent": "harness-test"},
)
body = answer.json() if answer.content else {}
print(answer.status_code, body.get("message", "") if isinstance(body, dict) else "")
'''


@pytest.fixture
def simulate(tmp_path, fake_github):
    """``simulate({"ci.yml": text}, files={...}, **options)``: a repository with those
    workflows on main, and a Simulation of its Actions against the fake GitHub."""

    def make(workflows: dict[str, str], files: dict[str, str] | None = None, **options):
        source = tmp_path / "source"
        for name, text in workflows.items():
            target = source / ".github" / "workflows" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text), encoding="utf-8")
        for name, text in {"README.md": "hello\n", "call.py": CALL_API, **(files or {})}.items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(text, encoding="utf-8")
        repo = UserRepository.from_folder(
            tmp_path / "repo", source, full_name=fake_github.repository
        )
        return Simulation(tmp_path / "sim", repo, fake_github, **options)

    return make


def only(runs):
    assert len(runs) == 1, [r.file for r in runs]
    return runs[0]


def outputs(run, job):
    assert run.job(job).state == "success", run.log()
    return run.job(job).outputs


def test_each_job_runs_on_its_own_fresh_machine(simulate):
    sim = simulate(
        {
            "ci.yml": f"""
            on: push
            permissions: {{}}
            jobs:
              a:
                runs-on: ubuntu-latest
                outputs:
                  where: ${{{{ steps.write.outputs.where }}}}
                steps:
                  - uses: {CHECKOUT}
                    with: {{persist-credentials: false}}
                  - id: write
                    run: |
                      echo made > made.txt; echo secret > "$HOME/in-home"; echo t > "$RUNNER_TEMP/in-temp"
                      mkdir -p out/.hidden; echo kept > out/kept.txt; echo no > out/.hidden/x
                      echo "where=$GITHUB_WORKSPACE $HOME" >> "$GITHUB_OUTPUT"
                  - uses: {UPLOAD}
                    with: {{name: out, path: out}}
              b:
                needs: a
                runs-on: ubuntu-latest
                outputs:
                  seen: ${{{{ steps.look.outputs.seen }}}}
                steps:
                  - id: look
                    run: |
                      echo "seen=$(ls -A | tr '\\n' ' ')|$(ls -A "$HOME" | tr '\\n' ' ')|$(ls "$RUNNER_TEMP" | grep -c in-temp)|$GITHUB_WORKSPACE $HOME" >> "$GITHUB_OUTPUT"
                  - uses: {CHECKOUT}
                    with: {{persist-credentials: false}}
                  - uses: {DOWNLOAD}
                    with: {{name: out, path: got}}
                  - run: |
                      test "$(git rev-parse HEAD)" = "$GITHUB_SHA"
                      test ! -e made.txt && test -f README.md
                      test "$(cat got/kept.txt)" = kept && test ! -e got/.hidden
            """
        }
    )
    sim.repo.write("README.md", "changed\n")
    sim.repo.commit("change")
    run = only(sim.push("main"))
    assert run.conclusion == "success", run.log()
    seen, before_checkout = outputs(run, "b")["seen"], "||0|"
    assert seen.startswith(before_checkout), seen  # empty workspace, empty home, clean temp
    assert seen.split("|")[3] != outputs(run, "a")["where"]  # another machine
    assert not any(Path(leg.machine).exists() for j in run.jobs.values() for leg in j.legs)


def test_artifact_rules(simulate):
    sim = simulate(
        {
            "ci.yml": f"""
            on: push
            permissions: {{}}
            jobs:
              up:
                runs-on: ubuntu-latest
                steps:
                  - run: mkdir -p a/b .mlops/x && echo 1 > a/b/one && echo 2 > a/two && echo h > .mlops/x/h
                  - uses: {UPLOAD}
                    with: {{name: dir, path: a}}
                  - uses: {UPLOAD}
                    with:
                      name: two-paths
                      path: |
                        a/b/one
                        a/two
                  - uses: {UPLOAD}
                    with: {{name: globbed, path: 'a/**/one'}}
                  - uses: {UPLOAD}
                    with: {{name: hidden-left-out, path: ./.mlops, if-no-files-found: warn}}
                  - uses: {UPLOAD}
                    with: {{name: hidden, path: ./.mlops, include-hidden-files: true}}
                  - id: missing
                    continue-on-error: true
                    uses: {UPLOAD}
                    with: {{name: none, path: nothing/here, if-no-files-found: error}}
                  - id: twice
                    continue-on-error: true
                    uses: {UPLOAD}
                    with: {{name: dir, path: a/two}}
                  - uses: {UPLOAD}
                    with: {{name: hidden, path: a/two, overwrite: true}}
              down:
                needs: up
                runs-on: ubuntu-latest
                steps:
                  - id: unknown
                    continue-on-error: true
                    uses: {DOWNLOAD}
                    with: {{name: hidden-left-out}}
                  - uses: {DOWNLOAD}
                    with: {{path: all}}
                  - run: find all -type f | sort > listing && cat listing
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    up = run.job("up").run
    assert run.job("up").state == "success", run.log()
    assert (up.step("missing").status, up.step("twice").status) == ("failure", "failure")
    assert "No files were found with the provided path: nothing/here" in up.step("missing").stderr
    assert "(409) Conflict" in up.step("twice").stderr
    files = {name: sorted(a.files()) for name, a in run.artifacts.items()}
    assert files == {
        "dir": ["b/one", "two"],  # a lone folder is the artifact's root
        "two-paths": ["b/one", "two"],  # several paths: their least common ancestor
        "globbed": ["b/one"],  # a glob: the folder before the first wildcard
        "hidden": ["two"],  # overwritten by the last upload
    }
    down = run.job("down").run
    assert down.step("unknown").status == "failure"
    assert "Artifact not found for name: hidden-left-out" in down.step("unknown").stderr
    listing = down.steps[-1].stdout.split()
    assert listing == [
        "all/dir/b/one",
        "all/dir/two",
        "all/globbed/b/one",
        "all/hidden/two",
        "all/two-paths/b/one",
        "all/two-paths/two",
    ]


def test_needs_outputs_results_and_job_conditions(simulate):
    sim = simulate(
        {
            "ci.yml": """
            on: push
            permissions: {}
            jobs:
              make:
                runs-on: ubuntu-latest
                outputs:
                  value: ${{ steps.v.outputs.value }}
                steps:
                  - id: v
                    run: echo "value=42" >> "$GITHUB_OUTPUT"
              use:
                needs: make
                runs-on: ubuntu-latest
                outputs:
                  got: ${{ steps.g.outputs.got }}
                steps:
                  - id: g
                    env:
                      VALUE: ${{ needs.make.outputs.value }}
                      RESULT: ${{ needs.make.result }}
                    run: echo "got=$VALUE $RESULT" >> "$GITHUB_OUTPUT"
              breaks:
                needs: use
                runs-on: ubuntu-latest
                steps:
                  - run: exit 3
              after-break:
                needs: breaks
                runs-on: ubuntu-latest
                steps:
                  - run: echo never
              on-failure:
                needs: after-break
                if: failure()
                runs-on: ubuntu-latest
                steps:
                  - run: echo cleanup
              always:
                needs: [breaks]
                if: always() && needs.breaks.result == 'failure'
                runs-on: ubuntu-latest
                steps:
                  - run: echo report
              never-on-push:
                if: github.event_name == 'schedule'
                runs-on: ubuntu-latest
                steps:
                  - run: exit 1
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    assert outputs(run, "use") == {"got": "42 success"}
    states = {job_id: job.state for job_id, job in run.jobs.items()}
    assert states == {
        "make": "success",
        "use": "success",
        "breaks": "failure",
        "after-break": "skipped",
        "on-failure": "success",  # failure() looks at every ancestor, not only the skipped need
        "always": "success",
        "never-on-push": "skipped",
    }
    assert run.conclusion == "failure"


def test_matrix_expansion_fail_fast_and_outputs(simulate):
    from support.harness.simulation import _matrix

    assert _matrix(
        {
            "os": ["linux", "mac"],
            "py": ["3.11", "3.12"],
            "exclude": [{"os": "mac", "py": "3.11"}],
            "include": [{"py": "3.12", "extra": "yes"}, {"os": "win", "py": "3.12"}],
        }
    ) == [
        {"os": "linux", "py": "3.11"},
        {"os": "linux", "py": "3.12", "extra": "yes"},
        {"os": "mac", "py": "3.12", "extra": "yes"},
        {"os": "win", "py": "3.12"},  # would overwrite an original value: a new combination
    ]
    sim = simulate(
        {
            "ci.yml": """
            on: push
            permissions: {}
            jobs:
              legs:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    n: [1, 2]
                outputs:
                  last: ${{ steps.s.outputs.last }}
                steps:
                  - id: s
                    env:
                      N: ${{ matrix.n }}
                      TOTAL: ${{ strategy.job-total }}
                    run: echo "last=$N of $TOTAL" >> "$GITHUB_OUTPUT"
              fast:
                runs-on: ubuntu-latest
                strategy:
                  matrix:
                    n: [1, 2, 3]
                steps:
                  - env:
                      N: ${{ matrix.n }}
                    run: test "$N" != 2
            """
        }
    )
    sim.repo.commit("go")
    run = only(sim.push("main"))
    assert outputs(run, "legs") == {"last": "2 of 2"}
    assert [leg.status for leg in run.job("fast").legs] == ["success", "failure", "cancelled"]
    assert run.job("fast").state == "failure"


def test_each_job_token_carries_exactly_its_permissions(simulate, fake_github):
    job = """
              {name}:
                runs-on: ubuntu-latest
                {permissions}
                outputs:
                  answers: ${{{{ steps.call.outputs.answers }}}}
                steps:
                  - uses: {checkout}
                    with: {{persist-credentials: false}}
                  - id: call
                    env:
                      TOKEN: ${{{{ github.token }}}}
                    run: |
                      {{
                        echo "answers<<EOF"
                        python call.py POST /issues '{{"title": "t"}}'
                        python call.py GET /issues
                        python call.py POST /dispatches '{{"event_type": "go"}}'
                        echo EOF
                      }} >> "$GITHUB_OUTPUT"
                      echo "$TOKEN" > token
                  - uses: {upload}
                    with: {{name: token-{name}, path: token}}
    """
    blocks = {"default": "", "writer": "permissions: {issues: write, contents: write}"}
    blocks["none"] = "permissions: {}"
    text = "on: push\npermissions:\n  contents: read\njobs:\n"
    for name, permissions in blocks.items():
        filled = job.format(name=name, permissions=permissions, checkout=CHECKOUT, upload=UPLOAD)
        text += textwrap.indent(textwrap.dedent(filled), "  ")
    sim = simulate({"ci.yml": text})
    sim.repo.commit("go")
    run = only(sim.push("main"))
    forbidden = "403 Resource not accessible by integration"
    assert outputs(run, "default")["answers"].splitlines() == [forbidden, forbidden, forbidden]
    assert outputs(run, "writer")["answers"].splitlines() == ["201 ", "200 ", "204 "]
    assert outputs(run, "none")["answers"].splitlines() == [forbidden, forbidden, forbidden]
    assert run.job("default").legs[0].permissions == {"contents": "read", "metadata": "read"}
    assert len(fake_github.dispatches) == 1
    # the token died with its job
    token = run.artifacts["token-writer"].files()["token"].decode().strip()
    import requests

    answer = requests.get(
        f"{fake_github.url}/repos/{fake_github.repository}/issues",
        headers={"Authorization": f"Bearer {token}", "User-Agent": "t"},
        timeout=30,
    )
    assert answer.status_code == 401


def test_fork_pull_request_gets_a_read_only_token_and_no_secrets(simulate):
    sim = simulate(
        {
            "pr.yml": f"""
            on: pull_request
            permissions: {{}}
            jobs:
              check:
                runs-on: ubuntu-latest
                permissions:
                  contents: read
                  pull-requests: write
                outputs:
                  answer: ${{{{ steps.call.outputs.answer }}}}
                steps:
                  - uses: {CHECKOUT}
                    with: {{persist-credentials: false}}
                  - id: call
                    env:
                      TOKEN: ${{{{ github.token }}}}
                      SECRET: ${{{{ secrets.API_KEY }}}}
                      NUMBER: ${{{{ github.event.pull_request.number }}}}
                    run: |
                      echo "answer=$(python call.py POST "/issues/$NUMBER/comments" '{{"body": "hi"}}') secret=[$SECRET] code=$(cat model.py)" >> "$GITHUB_OUTPUT"
            """
        },
        secrets={"API_KEY": "s3cret"},
    )
    for fork in (False, True):
        sim.repo.branch(f"topic-{fork}", start="main")
        sim.repo.write("model.py", f"fork = {fork}\n")
        sim.repo.commit(f"from a fork: {fork}")
        number, runs = sim.open_pull_request(f"topic-{fork}", fork=fork)
        run = only(runs)
        assert run.ref == f"refs/pull/{number}/merge"
        answer = outputs(run, "check")["answer"]
        if fork:
            assert answer == "403 Resource not accessible by integration secret=[] code=fork = True"
            assert run.job("check").legs[0].permissions == {
                "contents": "read",
                "pull-requests": "read",
                "metadata": "read",
            }
        else:
            assert answer == "201  secret=[s3cret] code=fork = False"


def test_environment_review_and_concurrency(simulate):
    sim = simulate(
        {
            "release.yml": """
            on: push
            permissions: {}
            concurrency:
              group: release
              cancel-in-progress: false
            jobs:
              build:
                runs-on: ubuntu-latest
                steps:
                  - run: echo build
              production:
                needs: build
                environment: production
                runs-on: ubuntu-latest
                steps:
                  - run: echo deploy
            """,
            "pr.yml": """
            on: pull_request
            permissions: {}
            concurrency:
              group: pr-${{ github.event.pull_request.number }}
              cancel-in-progress: true
            jobs:
              wait:
                environment: production
                runs-on: ubuntu-latest
                steps:
                  - run: echo checked
            """,
        }
    )
    runs = []
    for text in ("one", "two", "three"):
        sim.repo.write("README.md", text)
        sim.repo.commit(text)
        runs.append(only(sim.push("main")))
    first, second, third = runs
    assert (first.status, first.job("build").state, first.waiting_for) == (
        "waiting",
        "success",
        ["production"],
    )
    assert (second.status, second.conclusion) == ("completed", "cancelled")  # a newer one pends
    assert third.status == "pending"
    sim.approve(first, "production")
    assert first.conclusion == "success" and first.job("production").state == "success"
    assert third.waiting_for == ["production"]  # started when the group freed
    sim.reject(third, "production")
    assert third.conclusion == "failure" and "rejected" in third.job("production").note
    # cancel-in-progress: a new push to the pull request cancels the run still waiting
    sim.repo.branch("topic", start="main")
    sim.repo.commit("topic")
    _, started = sim.open_pull_request("topic")  # the push of the branch starts release.yml too
    assert [r.file for r in started] == ["release.yml", "pr.yml"]
    old = started[1]
    sim.repo.commit("again")
    new = [r for r in sim.push("topic") if r.file == "pr.yml"][0]
    assert (old.conclusion, new.status) == ("cancelled", "waiting")


def test_cache_is_saved_after_success_and_restored_by_key_and_prefix(simulate):
    sim = simulate(
        {
            "ci.yml": f"""
            on: [push, pull_request]
            permissions: {{}}
            jobs:
              cached:
                runs-on: ubuntu-latest
                outputs:
                  hit: ${{{{ steps.cache.outputs.cache-hit }}}}
                  found: ${{{{ steps.look.outputs.found }}}}
                steps:
                  - uses: {CHECKOUT}
                    with: {{persist-credentials: false}}
                  - id: cache
                    uses: {CACHE}
                    with:
                      path: ~/.cache/thing
                      key: thing-${{{{ hashFiles('README.md') }}}}
                      restore-keys: thing-
                  - id: look
                    run: |
                      echo "found=$(cat ~/.cache/thing/f 2>/dev/null)" >> "$GITHUB_OUTPUT"
                      mkdir -p ~/.cache/thing && cat README.md > ~/.cache/thing/f
            """
        }
    )
    sim.repo.commit("one")
    first = only(sim.push("main"))
    sim.repo.commit("two")  # same README: same key
    second = only(sim.push("main"))
    sim.repo.write("README.md", "other\n")
    sim.repo.commit("three")
    third = only(sim.push("main"))
    assert outputs(first, "cached") == {"hit": "false", "found": ""}
    assert outputs(second, "cached") == {"hit": "true", "found": "hello"}
    assert outputs(third, "cached") == {"hit": "false", "found": "hello"}  # by prefix
    # a pull request's cache stays with it; main never sees it
    sim.repo.branch("topic", start="main")
    sim.repo.write("README.md", "topic\n")
    sim.repo.commit("topic")
    _, started = sim.open_pull_request("topic")  # the branch's push runs too, on its own ref
    assert [outputs(run, "cached")["found"] for run in started] == ["other", "other"]
    sim.repo.git("checkout", "-q", "main")
    sim.repo.write("README.md", "topic\n")
    sim.repo.commit("same readme on main")
    assert outputs(only(sim.push("main")), "cached")["hit"] == "false"


def test_triggers_filters_skip_ci_schedule_and_dispatch(simulate, fake_github):
    sim = simulate(
        {
            "data.yml": """
            on:
              push:
                branches: [main]
                paths: ['data/**', '!data/ignored.csv']
            permissions: {}
            jobs:
              j: {runs-on: ubuntu-latest, steps: [{run: echo data}]}
            """,
            "nightly.yml": """
            on:
              schedule:
                - cron: '17 6 * * *'
            permissions: {}
            jobs:
              j:
                runs-on: ubuntu-latest
                permissions: {contents: write}
                steps:
                  - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
                    with: {persist-credentials: false}
                  - env:
                      TOKEN: ${{ github.token }}
                    run: |
                      python call.py POST /dispatches '{"event_type": "retrain", "client_payload": {"why": "drift"}}'
            """,
            "listen.yml": """
            on:
              repository_dispatch:
                types: [retrain]
            permissions: {}
            jobs:
              j:
                runs-on: ubuntu-latest
                outputs:
                  why: ${{ steps.w.outputs.why }}
                steps:
                  - id: w
                    env:
                      WHY: ${{ github.event.client_payload.why }}
                    run: echo "why=$WHY $(jq -r .action "$GITHUB_EVENT_PATH")" >> "$GITHUB_OUTPUT"
            """,
        }
    )
    sim.repo.write("src.py", "x = 1\n")
    sim.repo.commit("code only")
    assert sim.push("main") == []
    sim.repo.write("data/ignored.csv", "a\n")
    sim.repo.commit("ignored data")
    assert sim.push("main") == []
    sim.repo.write("data/train.csv", "a\n")
    sim.repo.commit("data [skip ci]")
    assert sim.push("main") == []
    sim.repo.write("data/train.csv", "b\n")
    sim.repo.commit("data")
    assert only(sim.push("main")).file == "data.yml"
    sim.repo.branch("other")
    sim.repo.write("data/train.csv", "c\n")
    sim.repo.commit("data elsewhere")
    assert sim.push("other") == []
    with pytest.raises(HarnessError, match="no workflow"):
        sim.schedule("0 0 * * *")
    nightly = only(sim.schedule("17 6 * * *"))
    assert nightly.conclusion == "success", nightly.log()
    listen = sim.runs_of("listen.yml")
    assert len(listen) == 1 and listen[0].event_name == "repository_dispatch"
    assert outputs(listen[0], "j") == {"why": "drift retrain"}


def test_the_clock_the_jobs_read_is_the_simulations(simulate):
    from datetime import UTC, datetime

    sim = simulate(
        {
            "ci.yml": """
            on: workflow_dispatch
            permissions: {}
            jobs:
              now:
                runs-on: ubuntu-latest
                outputs:
                  now: ${{ steps.n.outputs.now }}
                steps:
                  - id: n
                    run: |
                      echo "now=$(python -c 'from mlops_actions.clock import iso; import time; print(iso(), int(time.time()))')" >> "$GITHUB_OUTPUT"
            """
        },
        clock=Clock(datetime(2031, 5, 4, 6, 17, tzinfo=UTC)),
    )
    first = outputs(sim.dispatch_workflow("ci.yml"), "now")["now"].split()
    sim.clock.advance(days=3)
    later = outputs(sim.dispatch_workflow("ci.yml"), "now")["now"].split()
    assert first[0].startswith("2031-05-04T06:1") and later[0].startswith("2031-05-07T06:1")
    assert 3 * 86400 <= int(later[1]) - int(first[1]) < 3 * 86400 + 120


def test_checkout_fetch_depth_and_the_pull_request_merge_commit(simulate):
    describe = """\
    count=$(git rev-list --count HEAD)
    main=$(git rev-parse --verify -q origin/main >/dev/null && echo has-main || true)
    echo "git=$count $main $(git rev-list --parents -n 1 HEAD | wc -w)" >> "$GITHUB_OUTPUT"
    """
    tmp = {"describe.sh": textwrap.dedent(describe)}
    jobs = "".join(
        f"""
          depth{depth}:
            runs-on: ubuntu-latest
            outputs:
              git: ${{{{ steps.g.outputs.git }}}}
            steps:
              - uses: {CHECKOUT}
                with: {{persist-credentials: false, fetch-depth: {depth}}}
              - id: g
                run: bash describe.sh
        """
        for depth in (1, 0)
    )
    sim = simulate({"ci.yml": "on: [push, pull_request]\npermissions: {}\njobs:" + jobs}, files=tmp)
    sim.repo.commit("second")
    push = only(sim.push("main"))
    assert outputs(push, "depth1") == {"git": "1 has-main 1"}  # shallow: no parent fetched
    assert outputs(push, "depth0") == {"git": "2 has-main 2"}
    sim.repo.branch("topic")
    sim.repo.write("x.py", "x = 1\n")
    sim.repo.commit("topic")
    _, started = sim.open_pull_request("topic")
    pr = [r for r in started if r.event_name == "pull_request"][0]
    assert outputs(pr, "depth1") == {"git": "1  1"}  # the merge commit alone, no origin/main
    assert outputs(pr, "depth0")["git"].endswith(" has-main 3")  # a merge: two parents
