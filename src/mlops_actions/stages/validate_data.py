"""Check data against its pandera contract, plus dataset-level checks and a diff for PRs.

Every failure is collected in one run (pandera's lazy validation) and reported with the
file line of each failing row, so a pull request shows the bad lines. ``chunksize`` streams
files larger than memory with the same results; see ``mlops_actions.validation``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from functools import partial
from pathlib import Path
from typing import Any

from mlops_actions import engine, gitrepo
from mlops_actions import workdir as layout
from mlops_actions.config import Config
from mlops_actions.data import read_header, read_table, record_lines
from mlops_actions.data_source import pull_source
from mlops_actions.errors import ConfigError, DataError, UsageError, ValidationFailed
from mlops_actions.files import atomic_write_bytes, atomic_write_text, sha256_file
from mlops_actions.reports import render
from mlops_actions.stages._common import StageResult, write_result
from mlops_actions.validation import schema as sch

GIT_PREFIX = "git:"


@dataclasses.dataclass
class ValidateResult(StageResult):
    stage = layout.VALIDATE_DATA
    failure = ValidationFailed
    schema_path: Path
    schema_written: bool
    chunksize: int | None
    files: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    """Failed schema checks: role, file, column, check, count, samples, rows, lines."""
    checks: list[dict[str, Any]]
    """Dataset-level checks, passed or not."""
    profiles: dict[str, dict[str, Any]]
    """Column profile per file role; a later run's ``--baseline`` diffs against it."""
    diff: dict[str, Any] | None
    notes: list[str]
    max_annotations: int

    @property
    def passed(self) -> bool:
        return not self.failures and all(c["passed"] for c in self.checks)

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"]]

    @property
    def failing_rows(self) -> int:
        """Rows failing at least one schema check, over all files."""
        return sum(f["failing_rows"] for f in self.files)

    def failure_message(self) -> str:
        return (
            f"{len(self.failures)} schema check(s) and {len(self.failed_checks)} dataset check(s) failed "
            f"({self.failing_rows:,} failing row(s)); see {self.out_dir / 'summary.md'}"
        )

    def outputs(self) -> dict[str, Any]:
        return {
            **super().outputs(),
            "failures": len(self.failures) + len(self.failed_checks),
            "failing-rows": self.failing_rows,
            "schema": self.schema_path,
            "diff-file": self.out_dir / "diff.md" if self.diff is not None else "",
        }

    def summary_markdown(self) -> str:

        return render("validate_data.md.j2", r=self)

    def diff_markdown(self) -> str:
        """The data diff alone, for the PR comment."""

        return render("data_diff.md.j2", diff=self.diff)

    def annotations(self) -> list[dict[str, Any]]:
        """An ``error`` on the file line of failing rows, the cap shared fairly by the failed
        checks (so one check with many rows cannot take every annotation); the total in a
        last warning."""
        whole, rows, total = [], [], 0
        items = [(f, f"{f['column'] or 'table'}: {f['check']}") for f in self.failures]
        items += [(c, f"{c['check']}: {c['detail']}") for c in self.failed_checks]
        with_rows = [(item, what) for item, what in items if item["rows"]]
        shares = _fair_shares([len(item["rows"]) for item, _ in with_rows], self.max_annotations)
        for item, what in items:
            if not item["rows"]:
                whole.append({"level": "error", "message": what, "file": item["file"]})
        for (item, what), share in zip(with_rows, shares, strict=True):
            total += item["count"]
            pairs = itertools.zip_longest(item["rows"], item["lines"])
            for row, line in itertools.islice(pairs, share):
                if line is None:
                    rows.append(
                        {"level": "error", "message": f"row {row}: {what}", "file": item["file"]}
                    )
                else:
                    rows.append(
                        {"level": "error", "message": what, "file": item["file"], "line": line}
                    )
        if total > len(rows):
            rows.append(
                {
                    "level": "warning",
                    "message": f"{total:,} failing row(s) in all, {len(rows)} annotated; see the step summary",
                }
            )
        return whole + rows


def _fair_shares(available: list[int], budget: int) -> list[int]:
    """Split ``budget`` over items that have ``available`` each: smallest first, each takes at
    most an equal part (rounded up) of what is left, so every item gets some before any gets
    many, and what a small item leaves goes to the larger ones."""
    shares = [0] * len(available)
    left = budget
    order = sorted(range(len(available)), key=lambda i: available[i])
    for done, i in enumerate(order):
        shares[i] = min(available[i], -(-left // (len(order) - done)))
        left -= shares[i]
    return shares


def validate_data(
    config: Config,
    *,
    workdir: str | Path = ".mlops",
    data: list[str | Path] | None = None,
    infer_schema: bool = False,
    force: bool = False,
    baseline: str | None = None,
    chunksize: int | None = None,
    max_samples: int | None = None,
    scheduler: str | None = None,
) -> ValidateResult:
    """Validate the train/test files (or ``data``) against the schema; infer it first if asked."""
    from mlops_actions.validation import checks as dchecks
    from mlops_actions.validation import profile as prof
    from mlops_actions.validation.scan import Source, kinds_from_schema, scan

    if chunksize is not None and chunksize < 1:
        raise UsageError(f"--chunksize must be a positive number of rows, got {chunksize}")
    out = layout.stage_dir(workdir, layout.VALIDATE_DATA)
    rules = config.validation
    samples = rules.max_samples if max_samples is None else max_samples
    keep = max(samples, rules.max_annotations)
    if data is None:
        pull_source(config, workdir)
    paths = _data_paths(config, data)
    written = _write_inferred_schema(config, paths, force) if infer_schema else False
    schema = sch.load_schema(config.data.schema, config_label=config.label)
    string_columns = frozenset(name for name in schema.columns if sch.is_text(schema, name))
    sources = [
        Source(role, path, config.data.delimiter, config.data.encoding, string_columns, chunksize)
        for role, path in paths
    ]
    categorical = {config.data.target} if config.task == "classification" else set()
    kinds = kinds_from_schema(schema, categorical)
    hash_columns = _common_columns(sources)
    address = engine.scheduler_address(scheduler, config)
    if address is None:
        edges = _edges(schema, kinds, sources[0])
        scans = []
        for source in sources:
            scans.append(
                scan(
                    source,
                    schema=schema,
                    kinds=kinds,
                    edges=edges,
                    hash_columns=hash_columns,
                    keep=keep,
                    max_duplicate_share=rules.max_duplicate_share,
                )
            )
            source.release()
    else:
        scans, edges = _scan_on_cluster(
            address, baseline, schema, kinds, sources, hash_columns, keep, rules.max_duplicate_share
        )

    found = _dataset_checks(config, scans, set(schema.columns), keep)
    profiles = {
        s.source.role: {
            "path": _shown(s.source.path),
            "sha256": sha256_file(s.source.path),
            **s.profile,
        }
        for s in scans
    }
    diff = None
    if baseline:
        before, before_hashes = _baseline(config, baseline, scans, out, kinds, edges, hash_columns)
        diff = _diff(baseline, before, before_hashes, profiles, scans)
        if config.task == "classification":
            for role, old in before.items():
                if old is not None and role in profiles:
                    found += dchecks.label_distribution(
                        old,
                        profiles[role],
                        role=role,
                        against=f"{baseline} ({role})",
                        target=config.data.target,
                        rules=rules,
                    )

    lines = {
        s.source.role: _lines(
            s,
            [f.positions for f in s.failures]
            + [c.positions for c in found if c.role == s.source.role],
        )
        for s in scans
    }
    by_role = {s.source.role: s for s in scans}
    failures = [
        _failure_item(f, by_role[s.source.role], lines[s.source.role], samples)
        for s in scans
        for f in s.failures
    ]
    check_items = [_check_item(c, by_role[c.role], lines[c.role]) for c in found]
    result = ValidateResult(
        out_dir=out,
        schema_path=config.data.schema,
        schema_written=written,
        chunksize=chunksize,
        files=[_file_item(s) for s in scans],
        failures=failures,
        checks=check_items,
        profiles={role: prof.stored(p) for role, p in profiles.items()},
        diff=diff,
        notes=_notes(chunksize, schema, scans, keep),
        max_annotations=rules.max_annotations,
    )
    if diff is not None:
        atomic_write_text(out / "diff.md", result.diff_markdown())
    return write_result(result)


def _scan_on_cluster(
    address: str,
    baseline: str | None,
    schema: Any,
    kinds: dict[str, str],
    sources: list[Any],
    hash_columns: list[str],
    keep: int,
    max_duplicate_share: float,
) -> tuple[list[Any], dict[str, tuple[float, float]]]:
    """The same scans, each partition on a Dask worker (``validation.distributed``)."""
    from mlops_actions.validation import distributed

    if baseline and baseline.startswith(GIT_PREFIX):
        raise UsageError(
            f"--baseline {baseline}: a git baseline is read in this process; "
            "run without --scheduler, or give a previous result.json"
        )
    with engine.connect(address) as client:
        edges = _edges(
            schema,
            kinds,
            sources[0],
            observe=lambda columns: distributed.observed_ranges(client, sources[0], columns),
        )
        scans = distributed.scan_roles(
            client,
            sources,
            schema=schema,
            kinds=kinds,
            edges=edges,
            hash_columns=hash_columns,
            keep=keep,
            max_duplicate_share=max_duplicate_share,
        )
    return scans, edges


def _dataset_checks(
    config: Config, scans: list[Any], schema_columns: set[str], keep: int
) -> list[Any]:
    """Per file, then every other file against the first (the training file)."""
    from mlops_actions.validation import checks as dchecks

    rules = config.validation
    found = []
    for file_scan in scans:
        found += dchecks.per_file(file_scan, rules, schema_columns, keep)
    reference = scans[0]
    for other in scans[1:]:
        found.append(dchecks.leakage(reference, other, rules, keep))
        found += dchecks.skew(reference, other, rules)
        if config.task == "classification":
            found += dchecks.label_distribution(
                reference.profile,
                other.profile,
                role=other.source.role,
                against=reference.source.path.name,
                target=config.data.target,
                rules=rules,
            )
    return found


def _data_paths(config: Config, data: list[str | Path] | None) -> list[tuple[str, Path]]:
    if data:
        paths = [Path(p).resolve() for p in data]
        roles = [p.name if [q.name for q in paths].count(p.name) == 1 else _shown(p) for p in paths]
        return list(zip(roles, paths, strict=True))
    paths = [("train", config.data.train)]
    if config.data.test is not None:
        paths.append(("test", config.data.test))
    return paths


def _write_inferred_schema(config: Config, paths: list[tuple[str, Path]], force: bool) -> bool:
    import pandas as pd

    target = config.data.schema
    if target is None:
        raise ConfigError(
            f"{config.label}: data.schema is not set; add 'schema: schema.yaml' under data:"
        )
    if target.exists() and not force:
        raise UsageError(
            f"{target.name} exists; edit it, or pass --force to replace it with a newly inferred one"
        )
    frames = [
        read_table(p, delimiter=config.data.delimiter, encoding=config.data.encoding)
        for _, p in paths
    ]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    schema = sch.infer_schema(frame, target=config.data.target, task=config.task)
    source = " + ".join(_shown(p, config.root) for _, p in paths)
    atomic_write_text(target, sch.schema_yaml(schema, source=source))
    return True


def _edges(
    schema: Any, kinds: dict[str, str], reference: Any, observe: Any = None
) -> dict[str, tuple[float, float]]:
    """Histogram edges per numeric column: the declared range, else the reference file's
    (``observe(columns)`` finds them: by default one pass over the file here)."""
    from mlops_actions.validation import profile as prof

    edges = {}
    observed = []
    for name, kind in kinds.items():
        if kind != prof.NUMERIC:
            continue
        declared = sch.numeric_range(schema, name)
        if declared is not None:
            edges[name] = declared
        else:
            observed.append(name)
    header = set(_header(reference))
    observed = [c for c in observed if c in header]
    if observed:
        edges.update((observe or partial(_observed_ranges, reference))(observed))
    return edges


def _observed_ranges(reference: Any, observed: list[str]) -> dict[str, tuple[float, float]]:
    import numpy as np

    from mlops_actions.validation.profile import numeric_values

    low = dict.fromkeys(observed, np.inf)
    high = dict.fromkeys(observed, -np.inf)
    for chunk in reference.chunks(columns=observed):
        for name in observed:
            values = numeric_values(chunk[name])
            values = values[np.isfinite(values)]
            if len(values):
                low[name] = min(low[name], float(values.min()))
                high[name] = max(high[name], float(values.max()))
    return {name: (low[name], high[name]) for name in observed if np.isfinite(low[name])}


def _header(source: Any) -> list[str]:

    return read_header(source.path, delimiter=source.delimiter, encoding=source.encoding)


def _common_columns(sources: list[Any]) -> list[str]:
    """Columns every file has: rows are compared (duplicates, leakage, baseline) on these."""
    common = None
    for source in sources:
        names = set(_header(source))
        common = names if common is None else common & names
    return sorted(common or ())


def _baseline(
    config: Config,
    spec: str,
    scans: list[Any],
    out: Path,
    kinds: dict,
    edges: dict,
    hash_columns: list[str],
) -> tuple[dict[str, dict | None], dict[str, Any]]:
    """Profiles of the same files at the baseline, and for a git baseline the row hashes
    (now, then) to count rows added and removed."""
    from mlops_actions.validation.scan import Source, scan

    if not spec.startswith(GIT_PREFIX):
        path = Path(spec)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(
                f"--baseline {spec}: file not found; give git:<ref> or a previous result.json"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"--baseline {spec}: not a readable result.json ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict):
            raise UsageError(
                f"--baseline {spec}: has no 'profiles'; give a result.json written by validate-data"
            )
        return {s.source.role: doc["profiles"].get(s.source.role) for s in scans}, {}
    ref = spec[len(GIT_PREFIX) :]
    top = gitrepo.repository_at_ref(config.root, spec, ref)
    profiles: dict[str, dict | None] = {}
    hashes: dict[str, Any] = {}
    for current in scans:
        source = current.source
        relative = os.path.relpath(source.path, top)
        content = gitrepo.show(top, ref, relative)
        if content is None:
            profiles[source.role] = None
            continue
        copy = out / "baseline" / f"{source.role}{''.join(source.path.suffixes)}"
        atomic_write_bytes(copy, content)
        old = Source(
            source.role,
            copy,
            source.delimiter,
            source.encoding,
            source.string_columns,
            source.chunksize,
        )
        try:
            old_scan = scan(
                old, schema=None, kinds=kinds, edges=edges, hash_columns=hash_columns, keep=0
            )
        except DataError as exc:
            raise DataError(f"--baseline {spec}: {relative} at {ref}: {exc}") from None
        profiles[source.role] = {"path": relative, "sha256": sha256_file(copy), **old_scan.profile}
        shared = [c for c in hash_columns if c in old_scan.columns]
        if shared == hash_columns:
            hashes[source.role] = (current.row_hashes, old_scan.row_hashes)
        else:  # columns came or went: compare rows on the columns both versions have
            hashes[source.role] = (_row_hashes(source, shared), _row_hashes(old, shared))
    return profiles, hashes


def _row_hashes(source: Any, columns: list[str]) -> Any:
    import numpy as np

    from mlops_actions.validation.profile import ColumnView
    from mlops_actions.validation.scan import hash_rows

    return np.concatenate(
        [
            hash_rows({c: ColumnView(chunk[c]) for c in columns}, columns, len(chunk))
            for chunk in source.chunks(columns=columns)
        ]
    )


def _diff(
    spec: str, before: dict, before_hashes: dict, profiles: dict, scans: list[Any]
) -> dict[str, Any]:
    import numpy as np

    from mlops_actions.validation import profile as prof

    files = []
    for current in scans:
        role = current.source.role
        change = prof.diff_profiles(before.get(role), profiles[role])
        if role in before_hashes:
            now, then = before_hashes[role]
            change["rows_added"] = int((~np.isin(now, then)).sum())
            change["rows_removed"] = int((~np.isin(then, now)).sum())
        else:
            change["rows_added"] = change["rows_removed"] = None
        files.append({"role": role, "path": profiles[role]["path"], **change})
    return {"baseline": spec, "files": files}


def _lines(file_scan: Any, groups: list[list[int]]) -> dict[int, int]:

    source = file_scan.source
    if source.format != "csv":
        return {}
    positions = {p for group in groups for p in group}
    return record_lines(
        source.path,
        positions,
        rows=file_scan.rows,
        delimiter=source.delimiter,
        encoding=source.encoding,
    )


def _failure_item(
    failure: Any, file_scan: Any, lines: dict[int, int], samples: int
) -> dict[str, Any]:
    rows = [p + 1 for p in failure.positions]
    line_list = [lines[p] for p in failure.positions if p in lines]
    shown = []
    for i, value in enumerate(failure.values[:samples]):
        sample = {"value": _plain(value)}
        if i < len(failure.positions):
            sample["row"] = rows[i]
            if failure.positions[i] in lines:
                sample["line"] = lines[failure.positions[i]]
        shown.append(sample)
    return {
        "role": file_scan.source.role,
        "file": _shown(file_scan.source.path),
        "column": failure.column,
        "check": failure.check,
        "count": failure.count,
        "samples": shown,
        "rows": rows,
        "lines": line_list,
    }


def _check_item(check: Any, file_scan: Any, lines: dict[int, int]) -> dict[str, Any]:
    item = dataclasses.asdict(check)
    positions = item.pop("positions")
    item["file"] = _shown(file_scan.source.path)
    item["rows"] = [p + 1 for p in positions]
    item["lines"] = [lines[p] for p in positions if p in lines]
    return item


def _file_item(file_scan: Any) -> dict[str, Any]:
    source = file_scan.source
    return {
        "role": source.role,
        "path": _shown(source.path),
        "format": source.format,
        "rows": file_scan.rows,
        "columns": len(file_scan.columns),
        "failures": len(file_scan.failures),
        "failing_rows": file_scan.failing_rows,
    }


def _notes(chunksize: int | None, schema: Any, scans: list[Any], keep: int) -> list[str]:

    notes = [
        f"{_shown(s.source.path)}: uniqueness ({', '.join(sch.unique_columns(schema))}) is checked "
        f"among distinct rows; its {s.duplicate_rows(keep)[0]:,} whole-row copies are counted "
        "once, under max_duplicate_share"
        for s in scans
        if s.copies_set_aside
    ]
    if chunksize is not None:
        notes.append(
            f"read in chunks of {chunksize:,} rows; every count and line number covers the whole file"
        )
        if sch.unique_columns(schema):
            notes.append(
                "uniqueness (" + ", ".join(sch.unique_columns(schema)) + ") checked across chunks "
                "from a 64-bit hash of each value"
            )
    return notes


def _plain(value: Any) -> Any:
    from mlops_actions.validation.profile import plain

    value = plain(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _shown(path: Path, root: Path | None = None) -> str:
    """A path as annotations and summaries show it: relative to the workspace when inside it."""
    base = root or Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    try:
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)
