"""The saved-model file: what ``GET /api/sessions/{id}/model`` writes and ``POST`` reads back.

A file is ``{format, version, config, query, trainer}``: ``trainer`` is the engine's
``Trainer.to_dict()``, from which training carries on bit for bit, on this server or another.
Loading checks everything before anything changes: the format and version (a foreign or newer
file is named as such), the shape and range of every field (one message per field, with its path:
``trainer.params.3``), the configuration as the API validates it, and that the trainer was made
from that configuration. The engine then rebuilds the trainer; only when that succeeds is it
swapped in.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.config import ConfigError, FieldError, PlaygroundConfig, validate_config
from engine.trainer import STATE_VERSION, Setup, Trainer

MODEL_FORMAT = "nn-playground-model"
MODEL_VERSION = 1
MAX_MODEL_BYTES = 8_000_000  # about 100,000 epochs of history (80 bytes each) and the largest data set

_Finite = Annotated[float, Field(allow_inf_nan=False)]
_Count = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _CustomData(_Strict):
    x: list[Annotated[list[_Finite], Field(min_length=2, max_length=2)]]
    y: list[_Finite]
    problem: Literal["binary", "multiclass", "regression"]
    n_classes: _Count


class _History(_Strict):
    train_loss: list[float]
    test_loss: list[float]
    train_metric: list[float]
    test_metric: list[float]
    epochs: list[_Count] | None = None  # a long history is saved thinned (History.window)


class _Divergence(_Strict):
    epoch: _Count
    reason: str


class _TrainerState(_Strict):
    version: Literal[STATE_VERSION]  # type: ignore[valid-type]
    setup: dict[str, Any]
    custom_data: _CustomData | None
    params: Annotated[list[_Finite], Field(min_length=1)]
    optimizer: dict[str, Any] | None
    rng: dict[str, Any]
    epoch: _Count
    iteration: _Count
    history: _History
    divergence: _Divergence | None
    # TensorFlow Playground's set-up (engine/tfpg.py); files saved before it have neither
    pending_rows: _Count = 0
    dead_weights: list[_Count] = []


class _ModelFile(_Strict):
    format: Literal[MODEL_FORMAT]  # type: ignore[valid-type]
    version: Literal[MODEL_VERSION]  # type: ignore[valid-type]
    config: dict[str, Any]
    query: str | None = None  # written for people; the config is what counts
    trainer: _TrainerState


def model_file(config: PlaygroundConfig, trainer_state: dict[str, Any]) -> dict[str, Any]:
    """The saved-model file of a session."""
    return {"format": MODEL_FORMAT, "version": MODEL_VERSION, "config": config.model_dump(mode="json"),
            "query": config.to_query(), "trainer": trainer_state}


def read_model_file(content: Any) -> tuple[PlaygroundConfig, dict[str, Any]]:
    """The configuration and trainer state of a parsed model file; ConfigError lists every
    problem, each on the path of its field (``format``, ``config.lr``, ``trainer.params.3``)."""
    if not isinstance(content, dict):
        raise ConfigError([FieldError("body", "a model file is a JSON object {format, version, config, trainer}")])
    if content.get("format") != MODEL_FORMAT:  # a foreign file: say so, not 30 missing fields
        raise ConfigError([FieldError("format", f"not a playground model file: format must be {MODEL_FORMAT!r}, "
                                                f"got {content.get('format')!r}")])
    if content.get("version") != MODEL_VERSION:
        raise ConfigError([FieldError("version", f"model file version {content.get('version')!r} is not supported; "
                                                 f"this server reads version {MODEL_VERSION}")])
    try:
        parsed = _ModelFile.model_validate(content)
    except ValidationError as exc:
        raise ConfigError([FieldError(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]) from None
    try:
        config = validate_config(parsed.config)
    except ConfigError as exc:
        raise ConfigError([FieldError(f"config.{e.field}", e.message, e.code, e.params) for e in exc.errors]) from None
    state = parsed.trainer.model_dump()
    try:
        made_from = Setup(**state["setup"])
    except (TypeError, ValueError) as exc:
        raise ConfigError([FieldError("trainer.setup", str(exc))]) from None
    if made_from != config.to_setup():
        raise ConfigError([FieldError("trainer.setup", "the trainer was not made from this file's config")])
    return config, state


def load_state(trainer: Trainer, state: dict[str, Any]) -> None:
    """Make ``trainer`` the one ``state`` describes (runs where the trainer lives). Any problem
    the engine finds is a ValueError, and ``trainer`` is untouched until the new one is built."""
    try:
        loaded = Trainer.from_dict(state)
    except (KeyError, TypeError, IndexError, AttributeError, ValueError) as exc:
        raise ValueError(f"trainer: {exc}") from None
    trainer.__dict__.clear()
    trainer.__dict__.update(loaded.__dict__)
