"""The action harness follows the runner's rules; checked on small actions written here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from support.harness import (
    HarnessError,
    Runner,
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
    """Job env, defaults.run, needs, secrets, workflow_call input defaults, job-level if."""
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
                    run: echo "said=$GREETING $TOP $FROM_FIRST $SECRET $(basename "$PWD")" >> "$GITHUB_OUTPUT"
              never:
                if: github.event_name == 'schedule'
                runs-on: ubuntu-latest
                steps:
                  - run: exit 1
            """
        )
    )
    (tmp_path / "sub").mkdir()
    runner = Runner(tmp_path, secrets={"API_KEY": "k"})
    run = runner.run_job(workflow, "second", needs={"first": {"outputs": {"value": "v"}}})
    assert run.ok, run.log()
    assert run.steps[0].status == "skipped-tool"
    assert run.outputs == {"said": "hi top v k sub"}
    assert runner.run_job(workflow, "never").status == "skipped"
