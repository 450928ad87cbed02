"""The user's repository: a bare ``origin`` (what GitHub hosts) and a developer's clone of it.

The test edits, commits and pushes in the clone like a developer; the simulation turns pushes
into events. ``origin`` also holds ``refs/pull/N/head`` and ``refs/pull/N/merge`` (the test
merge commit a pull request run checks out), as GitHub's repositories do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ZERO_SHA = "0" * 40


class UserRepository:
    def __init__(
        self,
        root: Path,
        *,
        full_name: str = "octo-org/models",
        default_branch: str = "main",
        now: Callable[[], datetime] | None = None,
    ):
        self.full_name = full_name
        self.default_branch = default_branch
        self.origin = root / "origin.git"
        self.work = root / "clone"
        self._now = now
        self.origin.mkdir(parents=True)
        self._git(self.origin, "init", "-q", "--bare", "-b", default_branch)
        self._git(self.origin, "config", "uploadpack.allowAnySHA1InWant", "true")
        self._git(root, "clone", "-q", str(self.origin), str(self.work))
        self.git("config", "user.name", "Mona Lisa")
        self.git("config", "user.email", "mona@example.com")

    @classmethod
    def from_folder(cls, root: Path, source: Path, **options) -> UserRepository:
        """A repository whose first commit on the default branch holds ``source``'s files."""
        repo = cls(root, **options)
        shutil.copytree(
            source, repo.work, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".mlops")
        )
        repo.write(".gitignore", ".mlops/\n")
        repo.commit("initial commit")
        repo.git("push", "-q", "origin", repo.default_branch)
        return repo

    # ---- the developer's clone ------------------------------------------------------------
    def git(self, *args: str) -> str:
        return self._git(self.work, *args)

    def write(self, path: str, text: str) -> Path:
        target = self.work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def branch(self, name: str, *, start: str | None = None) -> None:
        self.git("checkout", "-q", "-B", name, *([start] if start else []))

    # ---- origin ---------------------------------------------------------------------------
    def origin_git(self, *args: str) -> str:
        return self._git(self.origin, *args)

    def sha(self, ref: str) -> str:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "-q", ref],
            cwd=self.origin,
            capture_output=True,
            text=True,
        )
        return proc.stdout.strip() if proc.returncode == 0 else ZERO_SHA

    def changed_files(self, before: str, after: str) -> list[str]:
        """Files a push or pull request changed (GitHub's paths filters read this list)."""
        if before == ZERO_SHA:
            base = self.sha(f"refs/heads/{self.default_branch}")
            if base in (ZERO_SHA, after):
                return self.origin_git("ls-tree", "-r", "--name-only", after).splitlines()
            before = self.origin_git("merge-base", base, after)
        return self.origin_git("diff", "--name-only", before, after).splitlines()

    def commits(self, before: str, after: str) -> list[dict[str, object]]:
        span = after if before == ZERO_SHA else f"{before}..{after}"
        shas = self.origin_git("rev-list", "--reverse", span).splitlines()[-20:]
        result = []
        for sha in shas:
            message = self.origin_git("log", "-1", "--format=%B", sha).strip()
            status = self.origin_git(
                "diff-tree", "--no-commit-id", "--name-status", "-r", "--root", sha
            )
            changed: dict[str, list[str]] = {"A": [], "M": [], "D": []}
            for line in status.splitlines():
                kind, _, name = line.partition("\t")
                changed.setdefault(kind[:1], []).append(name)
            result.append(
                {
                    "id": sha,
                    "message": message,
                    "added": changed["A"],
                    "modified": changed["M"],
                    "removed": changed["D"],
                }
            )
        return result

    def test_merge(self, number: int, head: str, base_branch: str) -> str:
        """refs/pull/N/head and the test merge commit refs/pull/N/merge (None if it conflicts)."""
        self.origin_git("update-ref", f"refs/pull/{number}/head", head)
        base = self.sha(f"refs/heads/{base_branch}")
        tree = self.origin_git("merge-tree", "--write-tree", base, head).splitlines()[0]
        merge = self.origin_git(
            "commit-tree", tree, "-p", base, "-p", head, "-m", f"Merge {head} into {base}"
        )
        self.origin_git("update-ref", f"refs/pull/{number}/merge", merge)
        return merge

    def merge(self, head: str, base_branch: str, message: str) -> str:
        """The merge button: a merge commit of ``head`` on the base branch, in origin."""
        base = self.sha(f"refs/heads/{base_branch}")
        tree = self.origin_git("merge-tree", "--write-tree", base, head).splitlines()[0]
        merge = self.origin_git("commit-tree", tree, "-p", base, "-p", head, "-m", message)
        self.origin_git("update-ref", f"refs/heads/{base_branch}", merge, base)
        return merge

    def _git(self, cwd: Path, *args: str) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env |= {
            "GIT_AUTHOR_NAME": "Mona Lisa",
            "GIT_AUTHOR_EMAIL": "mona@example.com",
            "GIT_COMMITTER_NAME": "Mona Lisa",
            "GIT_COMMITTER_EMAIL": "mona@example.com",
        }
        if self._now is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = self._now().isoformat()
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"git {' '.join(args)} in {cwd}: {proc.stderr.strip()}")
        return proc.stdout.strip()
