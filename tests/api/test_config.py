"""PlaygroundConfig as the API and the URL see it: query round trips, lenient URL parsing, and
one clear message per bad field."""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import parse_qsl

import annotated_types as at
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.config import (
    MAX_BATCH,
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
    MAX_NOISE,
    ConfigError,
    PlaygroundConfig,
    parse_query,
    validate_config,
)


def query_items(query: str) -> list[tuple[str, str]]:
    """What a browser's address bar hands the server (an empty ``layers=`` is kept)."""
    return parse_qsl(query, keep_blank_values=True)


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, at.Ge):
            bounds["min_value"] = item.ge
        elif isinstance(item, at.Gt):
            bounds["min_value"], bounds["exclude_min"] = item.gt, True
        elif isinstance(item, at.Le):
            bounds["max_value"] = item.le
        elif isinstance(item, at.MinLen):
            bounds["min_size"] = item.min_length
        elif isinstance(item, at.MaxLen):
            bounds["max_size"] = item.max_length
    return bounds


def _strategy(annotation: Any, metadata: list[Any]) -> st.SearchStrategy:
    """Values of one field, read off its type and limits, so a new field is covered too."""
    bounds = _bounds(metadata)
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        return _strategy(inner, [m for info in extra for m in [info, *getattr(info, "metadata", [])]])
    if origin in (Union, types.UnionType):
        (kind,) = [a for a in get_args(annotation) if a is not type(None)]
        return st.none() | _strategy(kind, metadata)
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is tuple:
        item = _strategy(get_args(annotation)[0], [])
        sizes = {k: v for k, v in bounds.items() if k in ("min_size", "max_size")}
        unique = get_origin(get_args(annotation)[0]) is Literal
        return st.lists(item, unique=unique, **sizes).map(tuple)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return st.integers(bounds["min_value"], bounds["max_value"])
    if annotation is float:
        return st.floats(allow_nan=False, allow_infinity=False, **bounds)
    if annotation is str:  # a text of a given form, such as a hash
        (pattern,) = {getattr(m, "pattern", None) or (getattr(m, "json_schema_extra", None) or {}).get("pattern")
                      for m in metadata} - {None}  # (a FieldInfo's metadata holds a pattern, or its schema says it)
        return st.from_regex(pattern, fullmatch=True)
    raise TypeError(f"no strategy for {annotation!r}")


FIELDS = {name: _strategy(f.annotation, f.metadata) for name, f in PlaygroundConfig.model_fields.items()}


@st.composite
def configs(draw: st.DrawFn) -> PlaygroundConfig:
    values = draw(st.fixed_dictionaries(FIELDS))
    try:
        return validate_config(values)
    except ConfigError:  # a rule between fields (say, the perceptron with hidden layers)
        assume(False)
        raise


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(configs())
def test_every_valid_config_survives_its_url(config: PlaygroundConfig) -> None:
    parsed, notes = parse_query(query_items(config.to_query()))
    assert notes == []
    assert parsed == config


def test_no_hidden_layers_survives_its_url() -> None:
    config = PlaygroundConfig(layers=())
    assert parse_query(query_items(config.to_query())) == (config, [])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lr=fast", "lr"),
        ("lr=0", "lr"),
        ("lr=11", "lr"),
        ("lr=nan", "lr"),
        ("dataset=moon", "dataset"),
        (f"noise={MAX_NOISE + 1}", "noise"),
        ("layers=1,2,3,4,5,6,7", "layers"),
        (f"layers=4,{MAX_NEURONS + 1}", "layers"),
        ("features=", "features"),
        ("features=x1,x1", "features"),
        ("colour=red", "colour"),
        ("batch=ten", "batch"),
    ],
)
def test_a_broken_url_falls_back_to_the_default_and_says_why(query: str, field: str) -> None:
    config, notes = parse_query(query_items(f"train=60&{query}&seed=3"))
    assert [n.field for n in notes] == [field]
    assert config.train == 60 and config.seed == 3  # the good values are kept
    default = PlaygroundConfig()
    assert getattr(config, field, None) == getattr(default, field, None)


def test_a_rule_between_fields_falls_back_with_a_note() -> None:
    config, notes = parse_query(query_items("optimizer=perceptron&layers=4"))
    assert [n.field for n in notes] == ["optimizer"]
    validate_config(config.model_dump())  # whatever it fell back to works


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"lr": 0}, "lr", "greater than 0"),
        ({"lr": 11}, "lr", "10"),
        ({"lr": float("nan")}, "lr", "finite"),
        ({"lr": "fast"}, "lr", "number"),
        ({"dataset": "moon"}, "dataset", "'circle'"),
        ({"layers": [4] * (MAX_HIDDEN_LAYERS + 1)}, "layers", str(MAX_HIDDEN_LAYERS)),
        ({"layers": [4, MAX_NEURONS + 1]}, "layers", f"item 2: Input should be less than or equal to {MAX_NEURONS}"),
        ({"features": []}, "features", "at least 1"),
        ({"batch": MAX_BATCH + 1}, "batch", str(MAX_BATCH)),
        ({"colour": "red"}, "colour", "unknown setting"),
        ({"loss": "cross_entropy", "dataset": "plane"}, "loss", "cross_entropy"),
    ],
)
def test_validate_config_names_each_bad_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(changes)
    assert [e.field for e in caught.value.errors] == [field]
    assert words in caught.value.errors[0].message


def test_validate_config_reports_every_bad_field_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config({"lr": 0, "noise": -1, "dataset": "moon"})
    assert sorted(e.field for e in caught.value.errors) == ["dataset", "lr", "noise"]
