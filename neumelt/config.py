"""Config loading shared by every package: YAML with line numbers -> frozen dataclasses.

``load_yaml(path)`` returns a :class:`Doc` (plain Python data plus a map from key path
to YAML line). ``build(cls, data, doc=doc)`` turns a mapping into the dataclass ``cls``,
checking unknown keys, missing keys and types from the type hints; every failure is an
:class:`~neumelt.errors.InputError` naming the file, the key path, the line and what was
expected.

Supported field types: ``int``, ``float``, ``str``, ``bool``, ``Optional[X]``/``X | None``,
``list[X]``, ``tuple[X, ...]``, ``dict[str, X]``, ``Literal[...]``, nested dataclasses and
``Any``. A dataclass may define ``__post_init__`` that raises ``ValueError``; the message is
re-raised as an ``InputError`` at that dataclass's key path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

from neumelt.errors import InputError

T = TypeVar("T")


@dataclass
class Doc:
    """A loaded YAML document: ``data`` plus ``lines`` (key path -> 1-based line)."""

    data: Any
    file: str | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, path: str) -> int | None:
        """Line of ``path`` or of its nearest parent that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""

    def error(self, path: str, message: str, expected: str | None = None) -> InputError:
        return InputError(message, file=self.file, key=path or None, line=self.line(path),
                          expected=expected)


def _join(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _from_node(node: yaml.Node, path: str, lines: dict[str, int], loader: yaml.SafeLoader) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        loader.flatten_mapping(node)
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if isinstance(key, (list, dict)):
                raise InputError("mapping keys must be scalars", line=knode.start_mark.line + 1)
            sub = _join(path, key)
            lines[sub] = knode.start_mark.line + 1
            if key in out:
                raise InputError(f"duplicate key '{key}'", key=sub, line=knode.start_mark.line + 1)
            out[key] = _from_node(vnode, sub, lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_from_node(v, _join(path, i), lines, loader) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml_text(text: str, file: str | None = None, *, multi: bool = False) -> list[Doc] | Doc:
    """Parse YAML text into one :class:`Doc` (or a list when ``multi``)."""
    docs: list[Doc] = []
    try:
        loader = yaml.SafeLoader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                lines: dict[str, int] = {}
                data = _from_node(node, "", lines, loader) if node is not None else None
                docs.append(Doc(data=data, file=file, lines=lines))
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"not valid YAML: {problem}", file=file, line=line) from None
    except InputError as exc:
        raise InputError(exc.detail, file=file, key=exc.key, line=exc.line) from None
    if multi:
        return docs
    if len(docs) != 1:
        raise InputError(f"expected one YAML document, found {len(docs)}", file=file)
    return docs[0]


def load_yaml(path: str | Path, *, multi: bool = False) -> list[Doc] | Doc:
    """Read a YAML file; a missing or unreadable file is an :class:`InputError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", file=str(path)) from None
    return parse_yaml_text(text, str(path), multi=multi)


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin in (list, tuple):
        args = get_args(tp)
        return f"a list of {_type_name(args[0])}" if args else "a list"
    if origin is dict:
        args = get_args(tp)
        return f"a mapping of {_type_name(args[1])}" if args else "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({tp.__name__})"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp)))


def _convert(tp: Any, value: Any, path: str, doc: Doc) -> Any:
    if tp is Any or tp is typing.Any:
        return value
    origin = get_origin(tp)
    if origin is Literal:
        if value not in get_args(tp):
            raise doc.error(path, f"invalid value {value!r}", _type_name(tp))
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, value, path, doc)
            except InputError as exc:
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        raise doc.error(path, f"invalid value {value!r}", _type_name(tp))
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise doc.error(path, f"got {type(value).__name__} {value!r}", _type_name(tp))
        args = get_args(tp)
        item = args[0] if args else Any
        items = [_convert(item, v, _join(path, i), doc) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise doc.error(path, f"got {type(value).__name__}", _type_name(tp))
        args = get_args(tp)
        vt = args[1] if args else Any
        return {str(k): _convert(vt, v, _join(path, k), doc) for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise doc.error(path, f"got {type(value).__name__} {value!r}", _type_name(tp))
        return build(tp, value, doc=doc, path=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise doc.error(path, f"got {value!r}", "true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise doc.error(path, f"got {value!r}", "an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise doc.error(path, f"got {value!r}", "a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise doc.error(path, f"got {value!r}", "a string")
        return value
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise doc.error(path, f"got {value!r}", _type_name(tp))


def build(cls: type[T], data: Any, *, doc: Doc | None = None, path: str = "",
          file: str | None = None) -> T:
    """Build dataclass ``cls`` from mapping ``data``, validating keys and types.

    Unknown keys and missing required keys are errors. ``doc`` supplies the file and
    line numbers; without it ``file`` names the source.
    """
    if doc is None:
        doc = Doc(data=data, file=file)
    if not isinstance(data, dict):
        raise doc.error(path, f"got {type(data).__name__}", f"a mapping ({cls.__name__})")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        k = unknown[0]
        raise doc.error(_join(path, k), f"unknown key '{k}'",
                        "one of " + ", ".join(sorted(fields)))
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], _join(path, name), doc)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise doc.error(path, f"missing required key '{name}'", _type_name(hints[name]))
    try:
        return cls(**kwargs)
    except InputError:
        raise
    except (ValueError, TypeError) as exc:
        raise doc.error(path, str(exc)) from None


def to_dict(obj: Any) -> Any:
    """Dataclass (or nested containers) -> plain JSON-able data."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return obj.item()
    return obj


def config_hash(config: Any) -> str:
    """Stable SHA-256 (hex, 16 chars) of a config's canonical JSON."""
    blob = json.dumps(to_dict(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
