"""Every error the package raises on purpose, and the exit code each one maps to.

::

    MlopsError                 base; exit_code 2 unless a subclass says otherwise
    ├── UsageError             a flag or argument the command cannot use          (2)
    ├── ConfigError            mlops.yaml (or a file it names) is wrong           (2)
    ├── DataError              a data file cannot be read or is not what it claims (2)
    ├── ModelError             a model file is unusable or cannot be converted    (2)
    ├── GitHubError            the GitHub API refused or failed a call            (2)
    └── CheckFailed            the check ran and found a problem                  (1)
        ├── ValidationFailed   data broke its contract
        ├── GateFailed         the candidate model did not pass the gate
        ├── ParityFailed       ONNX and scikit-learn disagree
        ├── DriftDetected      drift found and --fail-on-drift was given
        ├── DeployFailed       a pre- or post-deploy check failed (rolled back if live)
        └── ReportRefused      a pull request run's report artifact failed its checks

Only ``cli.main()`` turns these into exit codes; library callers catch them.
Messages are one line that names the file, key or column, what is wrong and,
where there is one, the fix.
"""

from __future__ import annotations

from collections.abc import Iterable


class MlopsError(Exception):
    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


def did_you_mean(word: object, options: Iterable[object]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or nothing: every message that
    rejects a name offers the nearest known one in the same words."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_line(text: str) -> str:
    """Escape newlines and other control characters (user keys and values can hold them)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class UsageError(MlopsError):
    pass


class ConfigError(MlopsError):
    pass


class DataError(MlopsError):
    pass


class ModelError(MlopsError):
    pass


class GitHubError(MlopsError):
    """A GitHub API call failed; ``status`` is the HTTP status (None for network errors).

    GitHub answers 403 both for a missing permission and for a rate limit; ``rate_limited``
    tells them apart, so a rate limit is never taken for a fork's read-only token.
    """

    def __init__(
        self, message: str, *, status: int | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.rate_limited = rate_limited

    @property
    def forbidden(self) -> bool:
        """The token may not do this: a fork's pull request, a missing ``permissions:`` line."""
        return self.status == 403 and not self.rate_limited


class CheckFailed(MlopsError):
    exit_code = 1


class ValidationFailed(CheckFailed):
    pass


class GateFailed(CheckFailed):
    pass


class ParityFailed(CheckFailed):
    pass


class DriftDetected(CheckFailed):
    pass


class DeployFailed(CheckFailed):
    pass


class ReportRefused(CheckFailed):
    pass
