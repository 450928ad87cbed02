"""The subset of GitHub Actions expressions our actions and workflows use, evaluated as the runner does.

Literals, context lookups (``inputs.x``, ``steps.id.outputs.name``, ``github['action_path']``),
``! == != < <= > >= && ||`` with GitHub's loose equality (strings compare case-insensitively,
mixed types coerce to numbers) and value-returning ``&&``/``||``, and the functions
success/failure/always/cancelled, contains, startsWith, endsWith, format, join, toJSON, fromJSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<str>'(?:[^']|'')*')"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
_INTERPOLATION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ExpressionError(f"cannot parse expression {text!r} at {text[pos:]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "num":
            value = int(value, 16) if value.lower().startswith(("0x", "-0x")) else float(value)
        elif kind == "str":
            value = value[1:-1].replace("''", "'")
        out.append((kind, value))
    return out


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "") or isinstance(value, (dict, list))


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b) and not isinstance(a, (int, float)):
        return a == b
    return _number(a) == _number(b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.casefold(), b.casefold()
    else:
        a, b = _number(a), _number(b)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def to_text(value: Any) -> str:
    """How an interpolated value becomes text in YAML strings."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


class _Parser:
    def __init__(
        self, text: str, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
    ):
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.contexts = contexts
        self.functions = functions

    def parse(self) -> Any:
        value = self.or_()
        if self.pos != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.pos][1]!r} in {self.text!r}")
        return value

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str) -> bool:
        token = self.peek()
        if token and token[0] == "op" and token[1] == value:
            self.pos += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.take(value):
            raise ExpressionError(f"expected {value!r} in {self.text!r}")

    def or_(self) -> Any:
        left = self.and_()
        while self.take("||"):
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.equality()
        while self.take("&&"):
            right = self.equality()
            left = right if truthy(left) else left
        return left

    def equality(self) -> Any:
        left = self.comparison()
        while True:
            if self.take("=="):
                left = _equal(left, self.comparison())
            elif self.take("!="):
                left = not _equal(left, self.comparison())
            else:
                return left

    def comparison(self) -> Any:
        left = self.unary()
        for op in ("<=", ">=", "<", ">"):
            if self.take(op):
                return _compare(op, left, self.unary())
        return left

    def unary(self) -> Any:
        if self.take("!"):
            return not truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while True:
            if self.take("."):
                kind, name = self.tokens[self.pos]
                if kind != "name":
                    raise ExpressionError(f"expected a property name in {self.text!r}")
                self.pos += 1
                value = _get(value, name)
            elif self.take("["):
                key = self.or_()
                self.expect("]")
                value = _get(value, key)
            else:
                return value

    def primary(self) -> Any:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"unexpected end of {self.text!r}")
        kind, value = token
        self.pos += 1
        if kind in ("num", "str"):
            return value
        if kind == "op" and value == "(":
            inner = self.or_()
            self.expect(")")
            return inner
        if kind == "name":
            if value in ("true", "false"):
                return value == "true"
            if value == "null":
                return None
            if self.take("("):
                args = []
                if not self.take(")"):
                    args.append(self.or_())
                    while self.take(","):
                        args.append(self.or_())
                    self.expect(")")
                function = self.functions.get(value.lower()) or _FUNCTIONS.get(value.lower())
                if function is None:
                    raise ExpressionError(f"unknown function {value}() in {self.text!r}")
                return function(*args)
            if value not in self.contexts:
                raise ExpressionError(f"unknown context {value!r} in {self.text!r}")
            return self.contexts[value]
        raise ExpressionError(f"unexpected {value!r} in {self.text!r}")


def _get(value: Any, key: Any) -> Any:
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
        folded = {str(k).casefold(): v for k, v in value.items()}
        return folded.get(str(key).casefold())
    if isinstance(value, list) and isinstance(key, (int, float)):
        index = int(key)
        return value[index] if 0 <= index < len(value) else None
    return None


def _format(template: str, *args: Any) -> str:
    return (
        re.sub(
            r"\{(\d+)\}",
            lambda m: to_text(args[int(m.group(1))]),
            template.replace("{{", "\0").replace("}}", "\1"),
        )
        .replace("\0", "{")
        .replace("\1", "}")
    )


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_text(needle).casefold() in to_text(haystack).casefold()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": _contains,
    "startswith": lambda a, b: to_text(a).casefold().startswith(to_text(b).casefold()),
    "endswith": lambda a, b: to_text(a).casefold().endswith(to_text(b).casefold()),
    "format": _format,
    "join": lambda items, sep=",": (
        to_text(sep).join(to_text(i) for i in items) if isinstance(items, list) else to_text(items)
    ),
    "tojson": lambda value: json.dumps(value, indent=2),
    "fromjson": lambda text: json.loads(text),
}


def evaluate(
    text: str,
    contexts: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """Value of one expression (the text inside ``${{ }}``)."""
    return _Parser(text, contexts, functions or {}).parse()


def interpolate(
    value: Any,
    contexts: Mapping[str, Any],
    functions: Mapping[str, Callable[..., Any]] | None = None,
) -> Any:
    """A YAML value with every ``${{ }}`` replaced: a lone expression keeps its type, else text."""
    if not isinstance(value, str):
        return value
    whole = _INTERPOLATION.fullmatch(value.strip())
    if whole and value.strip() == value:
        return evaluate(whole.group(1), contexts, functions)
    return _INTERPOLATION.sub(lambda m: to_text(evaluate(m.group(1), contexts, functions)), value)


def condition(
    value: Any, contexts: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]]
) -> bool:
    """An ``if:`` as the runner reads it: ``${{ }}`` optional, ``success() &&`` implied."""
    if value is None or value == "":
        text = "success()"
    elif isinstance(value, bool):
        return value
    else:
        text = str(value).strip()
        whole = _INTERPOLATION.fullmatch(text)
        if whole:
            text = whole.group(1).strip()
        elif "${{" in text:  # a template, not an expression: the runner tests the resulting text
            return truthy(interpolate(text, contexts, functions))
        if not re.search(r"\b(" + "|".join(STATUS_FUNCTIONS) + r")\s*\(", text):
            text = f"success() && ({text})"
    return truthy(evaluate(text, contexts, functions))
