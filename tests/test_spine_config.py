"""Config loading: YAML -> frozen dataclasses with errors naming file, key path and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from neumelt.config import build, config_hash, load_yaml, parse_yaml_text, to_dict
from neumelt.errors import InputError


@dataclass(frozen=True)
class Timing:
    nRCD: int
    nRP: int = 14


@dataclass(frozen=True)
class Preset:
    name: str
    policy: Literal["open", "closed"]
    timing: Timing
    channels: int = 32
    scale: float = 1.0
    tags: list[str] = field(default_factory=list)
    note: str | None = None

    def __post_init__(self) -> None:
        if self.channels <= 0:
            raise ValueError("channels must be positive")


GOOD = """\
name: hbm
policy: open
timing:
  nRCD: 14
scale: 2
tags: [a, b]
"""


def test_builds_nested_frozen_dataclass(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(GOOD)
    doc = load_yaml(p)
    preset = build(Preset, doc.data, doc=doc)
    assert preset.timing == Timing(nRCD=14, nRP=14)
    assert preset.scale == 2.0 and isinstance(preset.scale, float)
    assert preset.tags == ["a", "b"]
    assert to_dict(preset)["timing"] == {"nRCD": 14, "nRP": 14}


@pytest.mark.parametrize(
    "text, key, line, words",
    [
        (GOOD.replace("  nRCD: 14", "  nRCD: 14\n  nRAS: 3"), "timing.nRAS", 5, "unknown key"),
        (GOOD.replace("nRCD: 14", "nRCD: fourteen"), "timing.nRCD", 4, "an integer"),
        (GOOD.replace("policy: open", "policy: lazy"), "policy", 2, "'open'"),
        (GOOD.replace("tags: [a, b]", "tags: [a, 3]"), "tags[1]", 6, "a string"),
        (GOOD.replace("timing:\n  nRCD: 14\n", ""), None, None, "missing required key 'timing'"),
        (GOOD + "channels: 0\n", None, None, "channels must be positive"),
    ],
)
def test_errors_name_file_key_and_line(tmp_path, text, key, line, words):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    doc = load_yaml(p)
    with pytest.raises(InputError) as exc:
        build(Preset, doc.data, doc=doc)
    msg = str(exc.value)
    assert str(p) in msg and words in msg
    if key:
        assert exc.value.key == key and f"key '{key}'" in msg
    if line:
        assert exc.value.line == line and f":{line}" in msg


def test_yaml_syntax_error_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"bad\.yaml:2.*not valid YAML"):
        parse_yaml_text("a: 1\nb: c: d\n", "bad.yaml")
    with pytest.raises(InputError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="duplicate key 'a'"):
        parse_yaml_text("a: 1\na: 2\n", "dup.yaml")


def test_config_hash_is_stable_and_order_free():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
