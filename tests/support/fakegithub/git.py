"""The fake's repository: git objects and refs in memory, hashed as git hashes them.

Blob, tree and commit ids are git's own (``sha1("<type> <size>\\0" + body)``), so a client
may compare a blob ``sha`` from the API with ``git hash-object`` of its bytes, as it can
against GitHub. Trees are immutable; a file change builds new trees up to the root.
"""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass, field

FILE_MODE = "100644"
TREE_MODE = "040000"


@dataclass(frozen=True)
class Entry:
    name: str
    mode: str
    type: str  # blob | tree | commit
    sha: str


@dataclass(frozen=True)
class Commit:
    tree: str
    parents: tuple[str, ...]
    message: str
    author: dict[str, str]
    committer: dict[str, str]


@dataclass
class Repository:
    """Objects by id and refs by full name (``refs/heads/main``)."""

    default_branch: str = "main"
    blobs: dict[str, bytes] = field(default_factory=dict)
    trees: dict[str, tuple[Entry, ...]] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def with_readme(cls, default_branch: str = "main") -> Repository:
        """A repository as GitHub creates one with "Add a README": one commit on the default branch."""
        repo = cls(default_branch)
        tree = repo.tree_with(repo.put_tree(()), "README.md", repo.put_blob(b"# models\n"))
        repo.refs[f"refs/heads/{default_branch}"] = repo.put_commit(
            tree, (), "Initial commit", person("octocat")
        )
        return repo

    @property
    def empty(self) -> bool:
        return not self.refs

    # -- objects ---------------------------------------------------------------------------

    def put_blob(self, data: bytes) -> str:
        sha = _hash("blob", data)
        self.blobs[sha] = data
        return sha

    def put_tree(self, entries: tuple[Entry, ...]) -> str:
        ordered = tuple(sorted(entries, key=lambda e: e.name + ("/" if e.type == "tree" else "")))
        body = b"".join(
            f"{e.mode.lstrip('0')} {e.name}".encode() + b"\0" + bytes.fromhex(e.sha)
            for e in ordered
        )
        sha = _hash("tree", body)
        self.trees[sha] = ordered
        return sha

    def put_commit(
        self,
        tree: str,
        parents: tuple[str, ...],
        message: str,
        author: dict[str, str],
        committer: dict[str, str] | None = None,
    ) -> str:
        committer = committer or author
        lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
        for role, who in (("author", author), ("committer", committer)):
            lines.append(f"{role} {who['name']} <{who['email']}> {_epoch(who['date'])} +0000")
        sha = _hash("commit", ("\n".join(lines) + "\n\n" + message).encode())
        self.commits[sha] = Commit(tree, parents, message, author, committer)
        return sha

    def kind(self, sha: str) -> str | None:
        for name, store in (("blob", self.blobs), ("tree", self.trees), ("commit", self.commits)):
            if sha in store:
                return name
        return None

    # -- names -----------------------------------------------------------------------------

    def branch(self, name: str) -> str | None:
        return self.refs.get(f"refs/heads/{name}")

    def commit_of(self, ref: str) -> str | None:
        """A commit id, a branch or a tag name (what ``?ref=`` and ``tree_sha`` accept)."""
        if ref in self.commits:
            return ref
        return self.refs.get(f"refs/heads/{ref}") or self.refs.get(f"refs/tags/{ref}")

    def is_ancestor(self, older: str, newer: str) -> bool:
        seen, todo = set(), [newer]
        while todo:
            sha = todo.pop()
            if sha == older:
                return True
            if sha not in seen and sha in self.commits:
                seen.add(sha)
                todo.extend(self.commits[sha].parents)
        return False

    # -- paths in a tree -------------------------------------------------------------------

    def lookup(self, tree: str, path: str) -> Entry | None:
        entry = None
        for part in path.strip("/").split("/"):
            if tree is None or tree not in self.trees:
                return None
            entry = next((e for e in self.trees[tree] if e.name == part), None)
            if entry is None:
                return None
            tree = entry.sha if entry.type == "tree" else None
        return entry

    def walk(self, tree: str, prefix: str = "") -> list[tuple[str, Entry]]:
        """Every entry under ``tree`` with its path, parents before children (git's order)."""
        found = []
        for entry in self.trees[tree]:
            path = f"{prefix}{entry.name}"
            found.append((path, entry))
            if entry.type == "tree":
                found.extend(self.walk(entry.sha, path + "/"))
        return found

    def tree_with(self, tree: str, path: str, blob: str | None, mode: str = FILE_MODE) -> str:
        """The tree with ``path`` set to ``blob`` (``None``: removed; empty folders vanish)."""
        head, _, rest = path.strip("/").partition("/")
        entries = {e.name: e for e in self.trees[tree]}
        if rest:
            below = entries.get(head)
            sub = below.sha if below is not None and below.type == "tree" else self.put_tree(())
            new_sub = self.tree_with(sub, rest, blob, mode)
            if self.trees[new_sub]:
                entries[head] = Entry(head, TREE_MODE, "tree", new_sub)
            else:
                entries.pop(head, None)
        elif blob is None:
            entries.pop(head, None)
        else:
            entries[head] = Entry(head, mode, "blob", blob)
        return self.put_tree(tuple(entries.values()))


def _hash(kind: str, body: bytes) -> str:
    return hashlib.sha1(f"{kind} {len(body)}".encode() + b"\0" + body).hexdigest()


def _epoch(date: str) -> int:
    return calendar.timegm(time.strptime(date, "%Y-%m-%dT%H:%M:%SZ"))


def person(name: str) -> dict[str, str]:
    """Who a commit names when the request names nobody: the token's identity, now."""
    return {
        "name": name,
        "email": f"{name}@users.noreply.github.com",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
