"""A fake GitHub REST API for tests and demos; see ``server.py``."""

from support.fakegithub.server import FakeGitHub

__all__ = ["FakeGitHub"]
