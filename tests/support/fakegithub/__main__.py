"""Run the fake GitHub standalone: ``PYTHONPATH=tests python -m support.fakegithub --port 8765``.

Prints the environment to point ``mlops`` at it, seeds one open pull request (#1), serves
until interrupted, then prints what it holds and any contract violations.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from support.fakegithub.server import FakeGitHub


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m support.fakegithub", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0 = any free)"
    )
    parser.add_argument(
        "--repository",
        default="octo-org/models",
        help="owner/name served (default octo-org/models)",
    )
    parser.add_argument(
        "--token", default="ghs_fake0token", help="token it accepts (default ghs_fake0token)"
    )
    args = parser.parse_args(argv)

    fake = FakeGitHub(repository=args.repository, token=args.token).start(args.port)
    fake.add_pull_request()
    print(
        f"export GITHUB_API_URL={fake.url} GITHUB_TOKEN={fake.token} GITHUB_REPOSITORY={fake.repository}",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    fake.stop()
    held = {
        name: len(getattr(fake, name))
        for name in (
            "issues",
            "comments",
            "releases",
            "assets",
            "dispatches",
            "statuses",
            "check_runs",
            "deployments",
        )
    }
    print(json.dumps(held), file=sys.stderr)
    for violation in fake.violations:
        print(f"contract violation: {violation}", file=sys.stderr)
    return 1 if fake.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
