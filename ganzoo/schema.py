"""Constructors are the schema: read parameters from signatures and check recipe values against them."""

from __future__ import annotations

import difflib
import functools
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One parameter of a factory: name, default (``REQUIRED`` if none) and annotation (``Any`` if none)."""

    name: str
    default: Any = REQUIRED
    annotation: Any = Any

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def type_name(self) -> str:
        return describe_type(self.annotation)


def _unwrap(factory: Callable) -> Callable:
    while isinstance(factory, functools.partial):
        factory = factory.func
    return factory


def type_hints(factory: Callable, *, raw_fallback: bool = False) -> dict[str, Any]:
    """A factory's (or class constructor's) resolved annotations. When forward references cannot be resolved:
    none (no type checking), or with ``raw_fallback`` the unresolved ``__annotations__``."""
    target = _unwrap(factory)
    target = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(target)
    except Exception:  # noqa: BLE001 - unresolvable forward references
        return dict(getattr(target, "__annotations__", {})) if raw_fallback else {}


def parameters(factory: Callable, exclude: Iterable[str] = ()) -> tuple[Param, ...]:
    """Keyword-usable parameters of ``factory`` (partials and classes included), minus ``exclude``."""
    skip = set(exclude)
    hints = type_hints(factory)
    out = []
    for p in inspect.signature(factory).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY) or p.name in skip:
            continue
        out.append(Param(p.name, p.default, hints.get(p.name, Any)))
    return tuple(out)


def summary(obj: Any) -> str:
    """First line of a docstring (a partial's own ``__doc__`` wins over its function's)."""
    doc = obj.__doc__ if not isinstance(obj, functools.partial) or "__doc__" in vars(obj) else None
    doc = doc or inspect.getdoc(_unwrap(obj)) or ""
    doc = inspect.cleandoc(doc)
    return doc.splitlines()[0].strip() if doc else ""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def describe_type(annotation: Any) -> str:
    if annotation is Any or annotation is REQUIRED:
        return "any"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe_type(a) for a in args if a is not type(None)) + (
            " | None" if type(None) in args else ""
        )
    if origin in (list, tuple, dict):
        inner = ", ".join(describe_type(a) for a in args if a is not Ellipsis)
        return f"{origin.__name__}[{inner}]" if inner else origin.__name__
    return getattr(annotation, "__name__", str(annotation))


class TypeMismatch(ValueError):
    """A value does not fit an annotation; the message says what was expected."""


def _fail(value: Any, annotation: Any) -> typing.NoReturn:
    got = f"{type(value).__name__} {value!r}"
    note = ""
    if isinstance(value, str):
        try:
            float(value)
            note = " (a quoted number is a string: remove the quotes)"
        except ValueError:
            pass
    raise TypeMismatch(f"expected {describe_type(annotation)}, got {got}{note}")


def coerce(value: Any, annotation: Any) -> Any:
    """Check a YAML value against an annotation; return it, converted where lossless (int->float, list->tuple)."""
    if annotation is Any or annotation is REQUIRED or annotation is object:
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        if value in args and not (isinstance(value, bool) and not any(isinstance(a, bool) for a in args)):
            return value
        raise TypeMismatch(f"expected one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg)
            except TypeMismatch as exc:
                errors.append(str(exc))
        if len(errors) == 1:
            raise TypeMismatch(errors[0])
        _fail(value, annotation)
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            _fail(value, annotation)
        container = tuple if (origin is tuple or annotation is tuple) else list
        if not args:
            return container(value)
        if container is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise TypeMismatch(f"expected {len(args)} items ({describe_type(annotation)}), got {len(value)}")
            return tuple(coerce(v, a) for v, a in zip(value, args))
        return container(coerce(v, args[0]) for v in value)
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            _fail(value, annotation)
        return value
    if annotation is bool:
        if isinstance(value, bool):
            return value
        _fail(value, annotation)
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        _fail(value, annotation)
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        _fail(value, annotation)
    if annotation is str:
        if isinstance(value, str):
            return value
        _fail(value, annotation)
    if inspect.isclass(annotation):
        if value is None or isinstance(value, (bool, int, float, str, list, dict)):
            # YAML cannot produce arbitrary objects: a plain value for a class annotation (e.g. Tensor) is a mismatch
            if isinstance(value, annotation):
                return value
            _fail(value, annotation)
        return value
    return value  # annotations we cannot check (TypeVars, Protocols, ...)
