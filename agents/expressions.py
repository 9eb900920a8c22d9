"""The safe reference language of plan params: `{step1.result.slice(0,5)}`, `{user.email}`.

A template is parsed, never evaluated as code. Grammar inside braces:

    ref    := ROOT ( "." NAME | "." METHOD "(" args? ")" | "[" INT "]" | "[" INT? ":" INT? "]" )*
    args   := literal ("," literal)*        literal := INT | 'text' | "text"

ROOT must be a name the context provides (step ids like step1, user, task, config);
braces around anything else are left as literal text, so a URL template's `{id}` stays.
A param that is exactly one reference takes the referenced value (a list stays a list);
references inside longer text are formatted into it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)([^{}]*)\}")
TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<int>-?\d+)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<punct>[.()\[\],:]))"
)


class ExpressionError(ValueError):
    """A reference that cannot be parsed or resolved; the message names the expression."""


def _slice(value: Any, start: int = 0, end: int | None = None) -> Any:
    return value[start:end]


def _map(value: Any, field: str) -> list[Any]:
    return [item.get(field) if isinstance(item, dict) else None for item in value]


METHODS: dict[str, Callable[..., Any]] = {
    "slice": _slice,
    "join": lambda value, sep=",": sep.join(str(v) for v in value),
    "map": _map,
    "keys": lambda value: list(value.keys()),
    "values": lambda value: list(value.values()),
    "toString": lambda value: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False),
    "first": lambda value: value[0] if value else None,
    "last": lambda value: value[-1] if value else None,
}
PROPERTIES: dict[str, Callable[[Any], Any]] = {"length": len}


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"unexpected {text[pos:]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, source: str, tokens: list[tuple[str, str]]):
        self.source, self.tokens, self.pos = source, tokens, 0

    def peek(self, value: str | None = None) -> bool:
        return self.pos < len(self.tokens) and (value is None or self.tokens[self.pos][1] == value)

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        if self.pos >= len(self.tokens):
            raise ExpressionError(f"{{{self.source}}} ends too early")
        tok_kind, tok_value = self.tokens[self.pos]
        if (kind and tok_kind != kind) or (value and tok_value != value):
            raise ExpressionError(f"{{{self.source}}}: expected {value or kind}, found {tok_value!r}")
        self.pos += 1
        return tok_value

    def literal(self) -> Any:
        kind, value = self.tokens[self.pos] if self.peek() else ("", "")
        self.pos += 1
        if kind == "int":
            return int(value)
        if kind == "str":
            return value[1:-1]
        raise ExpressionError(f"{{{self.source}}}: expected a number or a quoted string, found {value!r}")

    def ops(self) -> list[tuple[str, Any]]:
        """The operations after the root, as (kind, argument) pairs."""
        ops: list[tuple[str, Any]] = []
        while self.peek():
            if self.peek("."):
                self.take(value=".")
                name = self.take("name")
                if self.peek("("):
                    self.take(value="(")
                    args = []
                    while not self.peek(")"):
                        args.append(self.literal())
                        if not self.peek(")"):
                            self.take(value=",")
                    self.take(value=")")
                    ops.append(("call", (name, args)))
                else:
                    ops.append(("field", name))
            elif self.peek("["):
                self.take(value="[")
                ops.append(self._index())
                self.take(value="]")
            else:
                raise ExpressionError(f"{{{self.source}}}: unexpected {self.tokens[self.pos][1]!r}")
        return ops

    def _index(self) -> tuple[str, Any]:
        start = int(self.take("int")) if self.tokens[self.pos][0] == "int" else None
        if self.peek(":"):
            self.take(value=":")
            end = int(self.take("int")) if self.peek() and self.tokens[self.pos][0] == "int" else None
            return ("call", ("slice", [start or 0, end]))
        if start is None:
            raise ExpressionError(f"{{{self.source}}}: an index must be a number")
        return ("index", start)


def _apply(source: str, value: Any, op: tuple[str, Any]) -> Any:
    kind, arg = op
    try:
        if kind == "index":
            return value[arg]
        if kind == "field":
            if isinstance(value, dict) and arg in value:
                return value[arg]
            if arg in PROPERTIES and not isinstance(value, dict):
                return PROPERTIES[arg](value)
            raise ExpressionError(f"{{{source}}}: no field {arg!r} in {_kind(value)}")
        name, args = arg
        if name not in METHODS:
            raise ExpressionError(f"{{{source}}}: unknown method {name}(); known: {', '.join(sorted(METHODS))}")
        return METHODS[name](value, *args)
    except ExpressionError:
        raise
    except (TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ExpressionError(f"{{{source}}}: cannot apply {kind} {arg!r} to {_kind(value)}: {exc}") from None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("dict", "object").replace("str", "text")


def evaluate(root: str, rest: str, context: dict[str, Any]) -> Any:
    source = root + rest
    parser = _Parser(source, _tokens(rest))
    value = context[root]
    for op in parser.ops():
        value = _apply(source, value, op)
    return value


def references(template: Any) -> set[str]:
    """Every root name referenced anywhere in a (nested) param value."""
    if isinstance(template, str):
        return {m.group(1) for m in TEMPLATE.finditer(template)}
    if isinstance(template, dict):
        return set().union(*(references(v) for v in template.values())) if template else set()
    if isinstance(template, list):
        return set().union(*(references(v) for v in template)) if template else set()
    return set()


def resolve(template: Any, context: dict[str, Any]) -> Any:
    """Resolve every reference in a (nested) param value against `context`."""
    if isinstance(template, dict):
        return {key: resolve(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(value, context) for value in template]
    if not isinstance(template, str):
        return template
    whole = TEMPLATE.fullmatch(template.strip())
    if whole and whole.group(1) in context:
        return evaluate(whole.group(1), whole.group(2), context)

    def substitute(match: re.Match[str]) -> str:
        if match.group(1) not in context:
            return match.group(0)
        value = evaluate(match.group(1), match.group(2), context)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return TEMPLATE.sub(substitute, template)
