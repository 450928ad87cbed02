"""``mlops``: one subcommand per stage, each a thin layer over one library function.

Each command has two small functions side by side, as DVC keeps them: ``_add_<command>``
declares its flags and ``_<command>`` calls the library. Only this module exits. Heavy
libraries are imported inside the handlers, so ``mlops --help`` starts in milliseconds.
"""

from __future__ import annotations

import argparse
import sys

from mlops_actions import __version__
from mlops_actions.errors import MlopsError, UsageError, one_line
from mlops_actions.serving.limits import DEFAULT_LIMITS, Limits

TYPE_CHECKING = False  # importing typing would cost start-up time on every CLI call
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mlops_actions.config import Config
    from mlops_actions.stages._common import StageResult
    from mlops_actions.stages.evaluate_gate import GateResult

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

PROG = "mlops"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(2)


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default="mlops.yaml", metavar="PATH", help="config file (default: mlops.yaml)"
    )
    common.add_argument(
        "--workdir", default=".mlops", metavar="DIR", help="where outputs go (default: .mlops)"
    )
    common.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set model.params.max_depth=6; "
        "an empty value removes the key (repeatable)",
    )
    _debug_flag(common)
    return common


def _debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )


def _command(
    sub: Subparsers,
    common: argparse.ArgumentParser,
    name: str,
    help: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help, parents=[common])
    parser.set_defaults(handler=handler)
    return parser


def _alias_flag(parser: argparse.ArgumentParser, default: str, help: str) -> None:
    """``--alias`` (the registry's word); ``--stage`` stays as a synonym for older workflows."""
    parser.add_argument(
        "--alias", "--stage", dest="alias", default=default, metavar="ALIAS", help=help
    )


def _scheduler_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on this Dask scheduler's cluster, e.g. tcp://host:8786 (needs mlops-actions[dask]; "
        "default: MLOPS_SCHEDULER, else compute.scheduler, else this process)",
    )


def _comment_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--comment",
        action="store_true",
        help="also post the summary as this model's sticky PR comment (needs pull-requests: write)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="CI-native MLOps: validate data, train, gate, package to ONNX, deploy, watch drift.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    common = _common_flags()  # built once: every command takes it as a parent
    for add in (
        _add_init,
        _add_models,
        _add_validate_data,
        _add_train,
        _add_evaluate_gate,
        _add_tune_matrix,
        _add_select_champion,
        _add_package_onnx,
        _add_deploy,
        _add_rollback,
        _add_registry,
        _add_serve,
        _add_drift_check,
        _add_drift_alert,
        _add_data_watch,
        _add_comment,
        _add_pr_report,
        _add_inspect,
    ):
        add(sub, common)
    return parser


# -- init -------------------------------------------------------------------------------------


def _add_init(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "init",
        help="write mlops.yaml, schema.yaml and the workflows for a data file, here",
        description="Inspect a data file and write, in the current folder of this repository, "
        "mlops.yaml (features chosen with reasons, gate rules from a cross-validated baseline), "
        "the inferred schema.yaml and the ml-*.yml workflows.",
    )
    p.set_defaults(handler=_init)
    _debug_flag(p)
    p.add_argument(
        "--data", required=True, metavar="PATH", help="the training data, CSV or Parquet"
    )
    p.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    p.add_argument("--name", help="model name (default: this folder's name)")
    p.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: inferred from the target's values",
    )
    p.add_argument("--force", action="store_true", help="replace files that exist")


def _init(args: argparse.Namespace) -> int:
    from mlops_actions.stages.init import init

    result = init(
        data=args.data, target=args.target, name=args.name, task=args.task, force=args.force
    )
    return _report(result, args)


def _add_models(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "models",
        help="list the repository's models (every mlops.yaml) as a workflow matrix",
        description='Print {"include": [{name, config, folder}, ...]} for strategy.matrix; with '
        "--changed-since, only the models whose config, data, schema or factory code changed.",
    )
    p.set_defaults(handler=_models)
    _debug_flag(p)
    p.add_argument("--root", default=".", metavar="DIR", help="where to look (default: here)")
    p.add_argument(
        "--pattern",
        default="**/mlops.yaml",
        metavar="GLOB",
        help="config files (default: %(default)s)",
    )
    p.add_argument(
        "--changed-since",
        metavar="REF",
        help="only models a change since the merge base with REF touches, e.g. origin/main",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="NAME",
        help="only the model called NAME (repeatable; an unknown name is an error)",
    )
    p.add_argument(
        "--with-data-source",
        action="store_true",
        help="only the models whose training data lives outside git (data.source): what "
        "data-watch can watch",
    )


def _models(args: argparse.Namespace) -> int:
    from mlops_actions import discovery
    from mlops_actions.github import actions

    models = discovery.discover(args.root, pattern=args.pattern)
    if args.name:
        models = discovery.named(models, args.name)
    if args.with_data_source:
        models = [m for m in models if m.watched]
    if args.changed_since:
        models = discovery.affected(models, discovery.changed_since(args.root, args.changed_since))
    matrix = discovery.matrix_json(models)
    if actions.in_actions():
        actions.set_outputs({"matrix": matrix, "count": len(models)})
    print(matrix)
    return 0


# -- validate-data ----------------------------------------------------------------------------


def _add_validate_data(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub, common, "validate-data", "check data against its pandera contract", _validate_data
    )
    p.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="PATH",
        help="validate this file instead of data.train/data.test (repeatable; the first is the reference)",
    )
    p.add_argument(
        "--infer-schema", action="store_true", help="write data.schema inferred from the data first"
    )
    p.add_argument(
        "--force", action="store_true", help="let --infer-schema replace an existing schema"
    )
    p.add_argument(
        "--baseline",
        metavar="REF",
        help="diff against git:<ref> (the files at that ref) or a previous result.json",
    )
    p.add_argument(
        "--chunksize",
        type=int,
        metavar="N",
        help="read N rows at a time (files larger than memory)",
    )
    p.add_argument(
        "--max-samples", type=int, metavar="N", help="failing values listed per check (default 5)"
    )
    p.add_argument("--no-fail", action="store_true", help="exit 0 even when checks fail")
    _scheduler_flag(p)
    _comment_flag(p)


def _validate_data(args: argparse.Namespace) -> int:
    from mlops_actions.stages.validate_data import validate_data

    result = validate_data(
        _config(args),
        workdir=args.workdir,
        data=args.data or None,
        infer_schema=args.infer_schema,
        force=args.force,
        baseline=args.baseline,
        chunksize=args.chunksize,
        max_samples=args.max_samples,
        scheduler=args.scheduler,
    )
    return _report(result, args, fail=not args.no_fail)


# -- train ------------------------------------------------------------------------------------


def _add_train(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    _command(sub, common, "train", "train the configured scikit-learn pipeline", _train)


def _train(args: argparse.Namespace) -> int:
    from mlops_actions.stages.train import train

    return _report(train(_config(args), workdir=args.workdir), args)


# -- evaluate-gate ----------------------------------------------------------------------------


def _add_evaluate_gate(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "evaluate-gate",
        "score the candidate against the baseline and pass or block it",
        _evaluate_gate,
    )
    p.add_argument(
        "--baseline",
        metavar="SPEC",
        help="registry:[TARGET:]ALIAS, git:REF[:PATH], a path to a .onnx, metrics.json or "
        "result.json, or none (default: gate.baseline; without one, the first model)",
    )
    p.add_argument(
        "--model", metavar="PATH", help="candidate model (default: WORKDIR/train/model.joblib)"
    )
    p.add_argument(
        "--rules-from",
        metavar="git:REF",
        help="judge by the config at this ref (a pull request's base commit), not the one given; "
        "the report lists the changes proposed to it",
    )
    p.add_argument(
        "--no-fail", action="store_true", help="exit 0 even when the gate fails (report only)"
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="also set commit status 'mlops/gate: NAME' on the commit under test (needs statuses: write)",
    )
    _comment_flag(p)


def _evaluate_gate(args: argparse.Namespace) -> int:
    from mlops_actions.stages.evaluate_gate import evaluate_gate

    result = evaluate_gate(
        _config(args),
        workdir=args.workdir,
        baseline=args.baseline,
        model=args.model,
        rules_from=args.rules_from,
    )
    return _report(result, args, fail=not args.no_fail)


# -- tune-matrix, select-champion ------------------------------------------------------------


def _trials_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--trials",
        metavar="JSON",
        help="the trials as a JSON list of overrides, e.g. '[{\"model.params.max_depth\": 4}]' "
        "(default: tune.trials and tune.grid in the config)",
    )


def _add_tune_matrix(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "tune-matrix",
        "print the training trials as a GitHub Actions matrix (JSON, at most 256 jobs)",
        _tune_matrix,
    )
    _trials_flag(p)


def _tune_matrix(args: argparse.Namespace) -> int:
    import json

    from mlops_actions.github import actions
    from mlops_actions.trials import matrix, parse_trials, plan_trials

    trials = plan_trials(_config(args), parse_trials(args.trials) if args.trials else None)
    text = json.dumps(matrix(trials), separators=(",", ":"))
    sys.stdout.write(text + "\n")
    actions.set_outputs({"matrix": text, "trials": len(trials)})
    return 0


def _add_select_champion(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "select-champion",
        "score every trial's candidate on the same test rows and pick the champion",
        _select_champion,
    )
    p.add_argument(
        "--candidates",
        nargs="*",
        default=[],
        metavar="DIR",
        help="the train output folder of each trial, named after the trial",
    )
    _trials_flag(p)


def _select_champion(args: argparse.Namespace) -> int:
    from mlops_actions.stages.select_champion import select_champion
    from mlops_actions.trials import parse_trials

    result = select_champion(
        _config(args),
        candidates=args.candidates,
        workdir=args.workdir,
        trials=parse_trials(args.trials) if args.trials else None,
    )
    return _report(result, args)


# -- package-onnx -----------------------------------------------------------------------------


def _add_package_onnx(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "package-onnx",
        "convert to ONNX, prove parity with scikit-learn, write the model card",
        _package_onnx,
    )
    p.add_argument(
        "--model", metavar="PATH", help="trained model.joblib (default: WORKDIR/train/model.joblib)"
    )


def _package_onnx(args: argparse.Namespace) -> int:
    from mlops_actions.stages.package_onnx import package_onnx

    return _report(package_onnx(_config(args), workdir=args.workdir, model=args.model), args)


# -- deploy, rollback, registry, serve --------------------------------------------------------


def _add_deploy(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "deploy",
        "check the packaged model, then version, promote and smoke-test it on a target",
        _deploy,
    )
    p.add_argument(
        "--target",
        required=True,
        metavar="NAME",
        help="a target under deploy.targets in the config",
    )
    _alias_flag(p, "staging", "alias to move: staging, production or any name (default: staging)")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="ONNX file or its folder (default: WORKDIR/package-onnx/model.onnx)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="let a model without a passed gate into production (recorded in the audit log)",
    )


def _deploy(args: argparse.Namespace) -> int:
    from mlops_actions.stages.deploy import deploy

    result = deploy(
        _config(args),
        workdir=args.workdir,
        target=args.target,
        alias=args.alias,
        model=args.model,
        force=args.force,
    )
    return _report(result, args)


def _add_rollback(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub, common, "rollback", "move an alias back to the version it pointed at before", _rollback
    )
    p.add_argument("--target", required=True, metavar="NAME", help="a registry or http target")
    _alias_flag(p, "production", "alias to roll back (default: production)")


def _rollback(args: argparse.Namespace) -> int:
    from mlops_actions.stages.rollback import rollback

    result = rollback(_config(args), workdir=args.workdir, target=args.target, alias=args.alias)
    return _report(result, args)


def _add_registry(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "registry",
        "list a target's versions and aliases, or show one version and the history",
        _registry,
    )
    p.add_argument(
        "action",
        choices=["list", "show"],
        help="list: versions and aliases; show: one version + history",
    )
    p.add_argument(
        "ref",
        nargs="?",
        default=None,
        metavar="VERSION|ALIAS",
        help="show: which version (default: latest)",
    )
    p.add_argument(
        "--target", required=True, metavar="NAME", help="a registry target (or one with a registry)"
    )


def _registry(args: argparse.Namespace) -> int:
    from mlops_actions.registry.store import describe
    from mlops_actions.registry.targets import registry_for

    config = _config(args)
    sys.stdout.write(
        describe(registry_for(config, args.target), config.name, args.action, args.ref)
    )
    return 0


def _add_serve(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "serve",
        "serve a registry alias over the Open Inference Protocol (needs the serve extra)",
        _serve,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--target", metavar="NAME", help="serve from this target's registry")
    source.add_argument("--model", metavar="PATH", help="serve one ONNX file instead")
    p.add_argument(
        "--alias", default="production", help="alias to serve and follow (default: production)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    p.add_argument(
        "--log-dir",
        metavar="DIR",
        help="write the inference log (JSONL) here for drift-check --current",
    )
    p.add_argument(
        "--admin-token-env",
        metavar="VAR",
        help="environment variable with the bearer token that may load models (http deploy target)",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often to check the alias (default: 5)",
    )
    limits = p.add_argument_group(
        "limits", "what one client may take (docs/deploy.md: running behind a proxy)"
    )
    for flag, kind, metavar, help in (
        ("--max-body-bytes", int, "BYTES", "largest request body, also once inflated"),
        ("--max-header-bytes", int, "BYTES", "largest request head"),
        ("--header-timeout", float, "SECONDS", "time to send a request head"),
        ("--body-timeout", float, "SECONDS", "time to send a request body"),
        ("--keep-alive-timeout", float, "SECONDS", "idle time before a connection is closed"),
        ("--max-connections", int, "N", "open connections past which requests get 503"),
    ):
        field = flag.removeprefix("--").replace("-", "_")
        limits.add_argument(
            flag,
            type=kind,
            default=getattr(DEFAULT_LIMITS, field),
            metavar=metavar,
            help=f"{help} (default: {getattr(DEFAULT_LIMITS, field)})",
        )


def _serve(args: argparse.Namespace) -> int:
    from mlops_actions.serving.server import serve

    serve(
        _config(args),
        target=args.target,
        alias=args.alias,
        model=args.model,
        workdir=args.workdir,
        host=args.host,
        port=args.port,
        log_dir=args.log_dir,
        admin_token_env=args.admin_token_env,
        poll_s=args.poll,
        limits=Limits(**{name: getattr(args, name) for name in Limits.__slots__}),
    )
    return 0


# -- drift-check ------------------------------------------------------------------------------


def _add_drift_check(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "drift-check",
        "compare current data with the training reference; alert on drift",
        _drift_check,
    )
    p.add_argument(
        "--current", metavar="PATH|GLOB|URL", help="current data (default: drift.current)"
    )
    p.add_argument(
        "--reference",
        metavar="PATH|registry:ALIAS",
        help="training data, saved profile .json, packaged model .onnx, or registry:[TARGET:]ALIAS "
        "for the model at that alias (default: drift.reference or data.train)",
    )
    p.add_argument(
        "--fail-on-drift",
        action="store_true",
        help="exit 1 on a drift verdict (not on too little data)",
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="derive per-column thresholds from the reference and store them",
    )
    p.add_argument(
        "--no-alert", action="store_true", help="send no repository_dispatch and touch no issue"
    )
    _scheduler_flag(p)


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
        scheduler=args.scheduler,
    )
    return _report(result, args)


def _add_drift_alert(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "drift-alert",
        "send the alerts of a drift check run with --no-alert, from its result alone",
        _drift_alert,
    )
    p.add_argument(
        "--check",
        metavar="DIR",
        help="the drift check's output folder, e.g. its downloaded artifact "
        "(default: WORKDIR/drift-check)",
    )


def _drift_alert(args: argparse.Namespace) -> int:
    from mlops_actions.stages.drift_alert import drift_alert

    return _report(drift_alert(_config(args), workdir=args.workdir, check=args.check), args)


# -- data-watch -------------------------------------------------------------------------------


def _add_data_watch(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "data-watch",
        "compare training data outside git with what the newest model was trained on; "
        "dispatch data-updated on a change",
        _data_watch,
    )
    p.add_argument(
        "--source",
        metavar="PATH|URL|s3://...",
        help="the data to watch: a file, folder, glob, http(s) or fsspec URL (default: data.source)",
    )
    p.add_argument(
        "--target",
        metavar="NAME",
        help="registry target under deploy.targets (default: the config's one registry target)",
    )
    p.add_argument("--fail-on-change", action="store_true", help="exit 1 when the data changed")
    p.add_argument("--no-alert", action="store_true", help="send no repository_dispatch")


def _data_watch(args: argparse.Namespace) -> int:
    from mlops_actions.stages.data_watch import data_watch

    result = data_watch(
        _config(args),
        workdir=args.workdir,
        source=args.source,
        target=args.target,
        fail_on_change=args.fail_on_change,
        alert=not args.no_alert,
    )
    return _report(result, args)


# -- comment, inspect -------------------------------------------------------------------------


def _add_comment(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "comment",
        "create or update this model's sticky comment on the pull request",
        _comment,
    )
    p.add_argument(
        "--body-file", required=True, metavar="FILE", help="markdown to post ('-' reads stdin)"
    )
    p.add_argument(
        "--pr",
        type=int,
        metavar="N",
        help="pull request number (default: from the pull_request event)",
    )
    p.add_argument(
        "--section",
        default="comment",
        metavar="NAME",
        help="part of the comment this body replaces, so stages share one comment (default: comment)",
    )


def _comment(args: argparse.Namespace) -> int:
    if args.body_file == "-":
        body = sys.stdin.read()
    else:
        try:
            with open(args.body_file, encoding="utf-8") as fh:
                body = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"--body-file {args.body_file}: cannot read it ({exc.__class__.__name__}); "
                "pass a UTF-8 markdown file"
            ) from None
    _post_comment(body, args, section=args.section, pr=args.pr)
    return 0


def _add_pr_report(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = _command(
        sub,
        common,
        "pr-report",
        "pack a pull request run's reports as an artifact, or post them from a workflow_run run "
        "(how fork pull requests get their comment and status)",
        _pr_report,
    )
    p.add_argument(
        "action",
        choices=["pack", "post"],
        help="pack: write the reports and verdict of this run's checks to --out; "
        "post: post those of run --run-id as the sticky comment and commit status",
    )
    p.add_argument("--out", metavar="DIR", help="pack: the folder to write (then upload it)")
    p.add_argument(
        "--run-id",
        type=int,
        metavar="ID",
        help="post: the pull request workflow run (github.event.workflow_run.id)",
    )
    p.add_argument(
        "--models",
        choices=["true", "false"],
        default="false",
        help="post: the run is a multi-model run's, with one mlops-pr-report-<model> artifact "
        "per model it affected: one comment for them all, a status per model and mlops/gate "
        "over them (default: %(default)s; --config is then not read)",
    )


def _pr_report(args: argparse.Namespace) -> int:
    from mlops_actions.github.pr_report import (
        pack_pr_report,
        post_models_report,
        post_pr_report,
    )

    if args.action == "pack":
        if not args.out:
            raise UsageError("pr-report pack needs --out DIR")
        written = pack_pr_report(args.workdir, args.out)
        sys.stdout.write(f"PR report packed: {written}\n")
        return 0
    if args.run_id is None:
        raise UsageError("pr-report post needs --run-id ID (github.event.workflow_run.id)")
    if args.models == "true":
        result = post_models_report(args.run_id)
    else:
        config = _config(args)
        result = post_pr_report(
            args.run_id,
            name=config.name,
            token_env=config.github.token_env,
            bot_login=config.github.bot_login,
        )
    if result.action == "posted":
        sys.stdout.write(
            f"PR #{result.pr or '?'}: comment {result.comment_url or 'not posted'}, "
            f"gate status {result.status or 'not set'}{f' ({result.reason})' if result.reason else ''}\n"
        )
    return 0


def _add_inspect(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    what = "show what a packaged .onnx model carries"
    p = sub.add_parser("inspect", help=what, description=what)
    p.add_argument("model", metavar="MODEL.onnx")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON for machines")
    _debug_flag(p)
    p.set_defaults(handler=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from mlops_actions.files import to_json
    from mlops_actions.model import OnnxModel
    from mlops_actions.reports import render

    model = OnnxModel(args.model)
    if args.json:
        sys.stdout.write(to_json(model.metadata))
    else:
        sys.stdout.write(render("inspect.md.j2", model=model, meta=model.metadata))
    return 0


# -- shared by the handlers -------------------------------------------------------------------


def _post_comment(
    body: str,
    args: argparse.Namespace,
    *,
    section: str,
    passed: bool | None = None,
    pr: int | None = None,
) -> None:
    """The sticky PR comment of the config's model; a fork PR only warns (see github.comment)."""
    from mlops_actions.github import actions
    from mlops_actions.github.comment import post_sticky_comment

    config = _config(args)
    result = post_sticky_comment(
        body,
        name=config.name,
        section=section,
        passed=passed,
        pr=pr,
        token_env=config.github.token_env,
        bot_login=config.github.bot_login,
    )
    if result.action != "skipped":
        sys.stdout.write(f"PR comment {result.action}: {result.url}\n")
    actions.set_outputs({"comment-url": result.url or ""})


def _post_status(result: GateResult, args: argparse.Namespace) -> None:
    """The gate verdict as a commit status; a fork PR only warns (see github.status)."""
    from mlops_actions.github.status import post_gate_status

    config = _config(args)
    posted = post_gate_status(
        result.passed,
        result.status_line(),
        name=config.name,
        token_env=config.github.token_env,
    )
    if posted.state:
        sys.stdout.write(
            f"Commit status {posted.context!r} set to {posted.state} on {posted.sha}\n"
        )


def _config(args: argparse.Namespace) -> Config:
    from mlops_actions.config import load_config

    return load_config(args.config, args.set)


def _report(result: StageResult, args: argparse.Namespace, *, fail: bool = True) -> int:
    """Show a stage result where the user looks (terminal or Actions), then pick the exit code."""
    from mlops_actions.github import actions

    summary = result.summary_markdown()
    for note in result.annotations():
        actions.annotate(
            note["level"], note["message"], file=note.get("file"), line=note.get("line")
        )
    if actions.in_actions():
        actions.append_summary(summary)
        actions.set_outputs(result.outputs())
    else:
        from mlops_actions.reports import terminal_text

        shown = terminal_text(summary)
        sys.stdout.write(shown if shown.endswith("\n") else shown + "\n")
    if getattr(args, "comment", False):  # before a failing verdict raises: the PR shows why
        _post_comment(summary, args, section=args.command, passed=result.passed)
    if getattr(args, "status", False):  # likewise: branch protection sees the failure
        _post_status(result, args)  # type: ignore[arg-type]  # only evaluate-gate has --status
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
    """One line on stderr; a message's own newlines are escaped, so a text from data or an
    exception can never start a line the Actions runner reads as a workflow command."""
    from mlops_actions.github import actions

    message = one_line(message)
    if actions.in_actions():
        actions.annotate("error", message, title=PROG)
    sys.stderr.write(f"{PROG}: error: {message}\n")
