"""``mlops``: one subcommand per stage, each a thin layer over one library function.

Only this module exits. Heavy libraries are imported inside the handlers, so
``mlops --help`` starts in milliseconds.
"""

from __future__ import annotations

import argparse
import sys

from mlops_actions import __version__
from mlops_actions.errors import MlopsError, UsageError

TYPE_CHECKING = False  # importing typing would cost start-up time on every CLI call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

PROG = "mlops"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="mlops.yaml", metavar="PATH", help="config file (default: mlops.yaml)")
    common.add_argument("--workdir", default=".mlops", metavar="DIR", help="where outputs go (default: .mlops)")
    common.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.params.max_depth=6; an empty value removes the key (repeatable)",
    )
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="CI-native MLOps: validate data, train, gate, package to ONNX, deploy, watch drift.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    common = _common()

    def command(name: str, help: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(handler=handler)
        return p

    command("validate-data", "check data against its pandera contract (issue 3)", _not_yet(3))
    command("train", "train the configured scikit-learn pipeline", _train)
    command("evaluate-gate", "score the candidate against the baseline and pass or block it (issue 4)", _not_yet(4))
    package = command("package-onnx", "convert to ONNX, prove parity with scikit-learn, write the model card", _package_onnx)
    package.add_argument(
        "--model", metavar="PATH", help="trained model.joblib (default: WORKDIR/train/model.joblib)"
    )
    command("deploy", "version, promote and smoke-test the model (issue 8)", _not_yet(8))
    drift = command("drift-check", "compare current data with the training reference; alert on drift", _drift_check)
    drift.add_argument("--current", metavar="PATH|GLOB|URL", help="current data (default: drift.current)")
    drift.add_argument(
        "--reference",
        metavar="PATH",
        help="training data, saved profile .json or packaged model .onnx (default: drift.reference or data.train)",
    )
    drift.add_argument("--fail-on-drift", action="store_true", help="exit 1 when the dataset drifted")
    drift.add_argument(
        "--calibrate", action="store_true", help="derive per-column thresholds from the reference and store them"
    )
    drift.add_argument("--no-alert", action="store_true", help="send no repository_dispatch and touch no issue")
    inspect = sub.add_parser(
        "inspect", help="show what a packaged .onnx model carries", description="show what a packaged .onnx model carries"
    )
    inspect.add_argument("model", metavar="MODEL.onnx")
    inspect.add_argument("--json", action="store_true", help="print the metadata as JSON for machines")
    inspect.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    inspect.set_defaults(handler=_inspect)
    return parser


def _train(args: argparse.Namespace) -> int:
    from mlops_actions.stages.train import train

    return _report(train(_config(args), workdir=args.workdir), args)


def _package_onnx(args: argparse.Namespace) -> int:
    from mlops_actions.stages.package_onnx import package_onnx

    return _report(package_onnx(_config(args), workdir=args.workdir, model=args.model), args)


def _inspect(args: argparse.Namespace) -> int:
    from mlops_actions.onnx_model import OnnxModel

    model = OnnxModel(args.model)
    if args.json:
        from mlops_actions.files import to_json

        sys.stdout.write(to_json(model.metadata))
        return 0
    from mlops_actions.reports import render

    sys.stdout.write(render("inspect.md.j2", model=model, meta=model.metadata))
    return 0


def _drift_check(args: argparse.Namespace) -> int:
    from mlops_actions.stages.drift_check import drift_check

    result = drift_check(
        _config(args),
        workdir=args.workdir,
        current=args.current,
        reference=args.reference,
        fail_on_drift=args.fail_on_drift,
        calibrate=args.calibrate,
        alert=not args.no_alert,
    )
    return _report(result, args)


def _not_yet(issue: int) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise UsageError(f"{PROG} {args.command} is not implemented yet (tracked in issue {issue})")

    return handler


def _config(args: argparse.Namespace) -> Any:
    from mlops_actions.config import load_config

    return load_config(args.config, args.set)


def _report(result: Any, args: argparse.Namespace, *, fail: bool = True) -> int:
    """Show a stage result where the user looks (terminal or Actions), then pick the exit code."""
    from mlops_actions.github import actions

    summary = result.summary_markdown()
    for note in result.annotations():
        actions.annotate(note["level"], note["message"], file=note.get("file"), line=note.get("line"))
    if actions.in_actions():
        actions.append_summary(summary)
        actions.set_outputs(result.outputs())
    else:
        sys.stdout.write(summary if summary.endswith("\n") else summary + "\n")
    if fail and not result.passed:
        raise result.failure(result.failure_message())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.handler(args)
    except MlopsError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        return 2


def _error(message: str) -> None:
    from mlops_actions.github import actions

    if actions.in_actions():
        actions.annotate("error", message, title=PROG)
    sys.stderr.write(f"{PROG}: error: {message}\n")
