"""PlaygroundConfig: the one validated model of a playground configuration.

The same field names are used everywhere: the form's inputs, the URL query (``?dataset=xor&
layers=4,2&lr=0.03``), the JSON API and, through ``to_setup``, the engine. Every limit the server
enforces is a named constant here; the engine's registries supply the allowed names, so a new
activation or dataset in the engine appears in the form, the URL and the API at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.points import MAX_POINTS_TEXT, POINTS_PATTERN, PointsError, decode_points, points_dataset
from engine.activations import ACTIVATIONS
from engine.datasets import (
    DATASETS,
    DEFAULT_CLASSES,
    FEATURES,
    MAX_CLASSES,
    MAX_TRAIN_FRACTION,
    MIN_CLASSES,
    MIN_TRAIN_FRACTION,
    SCALER_METHODS,
)
from engine.datasets import MAX_NOISE as MAX_NOISE_FRACTION
from engine.errors import InvalidValue
from engine.losses import LOSSES, REGULARIZATIONS
from engine.network import INITIALIZATIONS
from engine.nongradient import NON_GRADIENT_METHODS
from engine.optimizers import OPTIMIZERS, SCHEDULES
from engine.tfpg import CONVENTIONS
from engine.tfpg import OUTPUT_BY_PROBLEM as TFPG_PROBLEMS
from engine.trainer import MAX_GRID, Setup

# -- limits, enforced by the server (the form only offers what these allow) ----------------------
MAX_HIDDEN_LAYERS = 6
MAX_NEURONS = 8
MAX_BATCH = 100
# The form and the URL speak in percent; the engine's bounds are fractions (and MIN_CLASSES and
# MAX_CLASSES are the engine's own).
MIN_NOISE, MAX_NOISE = 0, round(100 * MAX_NOISE_FRACTION)
MIN_TRAIN, MAX_TRAIN = round(100 * MIN_TRAIN_FRACTION), round(100 * MAX_TRAIN_FRACTION)  # share used for training
MAX_LEARNING_RATE = 10.0
MAX_REG_RATE = 10.0
MAX_SEED = 2**31 - 1
MAX_EPOCHS_PER_STEP = 100
MIN_GRID, DEFAULT_GRID = 10, 50  # and the engine's MAX_GRID
MAX_HISTORY_POINTS = 2000  # loss-curve entries in one answer: longer histories come decimated
DATA_HASH_PATTERN = r"^[0-9a-f]{64}$"  # an uploaded set's SHA-256 (app/datastore.py)

# The dropdowns' choices (the API accepts any value in range).
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
REG_RATES = (0.0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
BATCH_SIZES = (1, 2, 5, 10, 20, 30, 50, 100)

# Controls a lesson link can hide (``hide=noise,lr``) and whether the article text shows.
HIDEABLE = (
    "dataset", "noise", "train", "batch", "regenerate", "preprocessing", "features",
    *(f"feature_{name}" for name in FEATURES),  # one input feature's toggle: feature_x1sq, ...
    "layers",
    "activation", "init", "loss", "convention", "optimizer", "lr", "schedule", "reg", "problem", "show_test",
    "discretize", "reset", "step", "play", "language", "lesson_links", "gallery",
    "classes", "share", "join",
)

DatasetName = Literal[tuple(DATASETS)]  # type: ignore[valid-type]
FeatureName = Literal[tuple(FEATURES)]  # type: ignore[valid-type]
ActivationName = Literal[tuple(ACTIVATIONS)]  # type: ignore[valid-type]
OptimizerName = Literal[(*OPTIMIZERS, *NON_GRADIENT_METHODS)]  # type: ignore[valid-type]
HideableName = Literal[HIDEABLE]  # type: ignore[valid-type]
Neurons = Annotated[int, Field(ge=1, le=MAX_NEURONS)]
UNIQUE_ITEMS = {"uniqueItems": True}  # (checked by _no_repeats; said in the schema)


def _hyper(minimum: float, maximum: float, integer: bool = False) -> Any:
    kind = int if integer else float
    return Annotated[kind | None, Field(default=None, ge=minimum, le=maximum, allow_inf_nan=False)]


def _hyper_field(optimizer_or_schedule: Mapping[str, Any], name: str) -> Any:
    """A field for a hyper-parameter, with the range the engine accepts for it."""
    for spec in optimizer_or_schedule.values():
        for param in spec.hyper:
            if param.name == name:
                return _hyper(param.minimum, param.maximum, param.integer)
    raise KeyError(name)


OPTIMIZER_PARAMS = tuple(dict.fromkeys(p.name for s in OPTIMIZERS.values() for p in s.hyper))
SCHEDULE_PARAMS = tuple(dict.fromkeys(p.name for s in SCHEDULES.values() for p in s.hyper))


class PlaygroundConfig(BaseModel):
    """A whole playground. Field names are the URL query keys and the API's JSON keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: DatasetName = "circle"
    noise: Annotated[int, Field(ge=MIN_NOISE, le=MAX_NOISE)] = 0
    train: Annotated[int, Field(ge=MIN_TRAIN, le=MAX_TRAIN)] = 50
    classes: Annotated[int, Field(ge=MIN_CLASSES, le=MAX_CLASSES)] = DEFAULT_CLASSES
    features: Annotated[tuple[FeatureName, ...], Field(min_length=1, json_schema_extra=UNIQUE_ITEMS)] = ("x1", "x2")
    preprocessing: Literal[SCALER_METHODS] = "none"  # type: ignore[valid-type]
    layers: Annotated[tuple[Neurons, ...], Field(max_length=MAX_HIDDEN_LAYERS)] = (4, 2)
    activation: ActivationName = "tanh"
    init: Literal[INITIALIZATIONS] = "xavier"  # type: ignore[valid-type]
    loss: Literal[("auto", *LOSSES)] = "auto"  # type: ignore[valid-type]
    # "tfpg": TensorFlow Playground's own set-up (engine/tfpg.py), for students who compare
    convention: Literal[CONVENTIONS] = "standard"  # type: ignore[valid-type]
    optimizer: OptimizerName = "sgd"
    lr: Annotated[float, Field(gt=0, le=MAX_LEARNING_RATE, allow_inf_nan=False)] = 0.03
    momentum: _hyper_field(OPTIMIZERS, "momentum") = None
    beta1: _hyper_field(OPTIMIZERS, "beta1") = None
    beta2: _hyper_field(OPTIMIZERS, "beta2") = None
    eps: _hyper_field(OPTIMIZERS, "eps") = None
    alpha: _hyper_field(OPTIMIZERS, "alpha") = None
    weight_decay: _hyper_field(OPTIMIZERS, "weight_decay") = None
    schedule: Literal[tuple(SCHEDULES)] = "constant"  # type: ignore[valid-type]
    step_size: _hyper_field(SCHEDULES, "step_size") = None
    gamma: _hyper_field(SCHEDULES, "gamma") = None
    decay: _hyper_field(SCHEDULES, "decay") = None
    reg: Literal[REGULARIZATIONS] = "none"  # type: ignore[valid-type]
    reg_rate: Annotated[float, Field(ge=0, le=MAX_REG_RATE, allow_inf_nan=False)] = 0.0
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 10
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    show_test: bool = False
    discretize: bool = False
    hide: Annotated[tuple[HideableName, ...], Field(json_schema_extra=UNIQUE_ITEMS)] = ()
    hide_text: bool = False
    # Your own data: a drawn set (app/points.py) or the hash of an uploaded one (app/datastore.py).
    # (the schema's pattern says what decode_points reads; its messages say what is wrong)
    points: Annotated[str, Field(max_length=MAX_POINTS_TEXT, json_schema_extra={"pattern": POINTS_PATTERN})] | None = None
    data: Annotated[str, Field(pattern=DATA_HASH_PATTERN)] | None = None

    @field_validator("features", "hide")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("repeated_value", "each value may appear only once")
        return value

    @field_validator("points")
    @classmethod
    def _readable_points(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                decode_points(text)
            except PointsError as exc:
                raise PydanticCustomError("points_unreadable", "cannot be read ({reason})", {"reason": str(exc)}) from None
        return text

    @field_validator("features")
    @classmethod
    def _in_catalogue_order(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """One order for the features (the form posts them in this order), so that the same
        choice is the same configuration and the same URL."""
        order = list(FEATURES)
        return tuple(sorted(value, key=order.index))

    @model_validator(mode="after")
    def _only_relevant_hyper_parameters(self) -> "PlaygroundConfig":
        """Forget hyper-parameters the chosen optimizer or schedule does not use, so that one
        configuration has one URL."""
        used = set(self.optimizer_params()) | set(self.schedule_params())
        for name in (*OPTIMIZER_PARAMS, *SCHEDULE_PARAMS):
            if name not in used and getattr(self, name) is not None:
                object.__setattr__(self, name, None)
        return self

    @property
    def problem(self) -> str:
        return DATASETS[self.dataset].problem

    def optimizer_params(self) -> dict[str, float]:
        """The chosen optimizer's hyper-parameters that were set (the rest take engine defaults)."""
        spec = OPTIMIZERS.get(self.optimizer)
        names = [p.name for p in spec.hyper] if spec else []
        return {n: getattr(self, n) for n in names if getattr(self, n, None) is not None}

    def schedule_params(self) -> dict[str, float]:
        names = [p.name for p in SCHEDULES[self.schedule].hyper]
        return {n: getattr(self, n) for n in names if getattr(self, n, None) is not None}

    def to_setup(self) -> Setup:
        """The engine's description of this playground (raises ValueError if they disagree)."""
        return Setup(
            dataset=self.dataset,
            noise=self.noise / 100,
            n_classes=self.classes,
            train_fraction=self.train / 100,
            features=self.features,
            preprocessing=self.preprocessing,
            hidden=self.layers,
            activation=self.activation,
            init=self.init,
            loss=self.loss,
            convention=self.convention,
            optimizer=self.optimizer,
            learning_rate=self.lr,
            optimizer_params=self.optimizer_params(),
            schedule=self.schedule,
            schedule_params=self.schedule_params(),
            regularization=self.reg,
            regularization_rate=self.reg_rate,
            batch_size=self.batch,
            seed=self.seed,
        )

    def to_query(self, short: bool = False) -> str:
        """The canonical, readable query string (without '?') that ``parse_query`` reads back.
        ``short`` leaves out what equals the defaults (``dataset=xor&layers=4``): the shortest
        link, for a QR code that must scan from the back of the room."""
        defaults = _DEFAULTS if short else {}
        parts = []
        for name, value in self.model_dump().items():
            if value is None or (name in _SHOWN_WHEN_SET and not value) or defaults.get(name, ...) == value:
                continue
            parts.append(f"{name}={_format(value)}")
        return "&".join(parts)

    def with_changes(self, **changes: Any) -> "PlaygroundConfig":
        """A validated copy with ``changes`` (typed values, as from JSON) applied (raises ConfigError)."""
        return validate_config({**self.model_dump(), **changes}, strict=True)


# Fields left out of the URL while they are off/empty (the rest always appear).
_SHOWN_WHEN_SET = ("show_test", "discretize", "hide", "hide_text")
_DEFAULTS = PlaygroundConfig().model_dump()


def page_url(config: PlaygroundConfig, lang: str | None, path: str = "/", short: bool = False,
             extra: tuple[tuple[str, str], ...] = ()) -> str:
    """The address that opens ``config`` in ``lang``: the playground, or another page (``/join``)
    with its own ``extra`` parameters. Every link to a playground is made here. Without ``lang``
    the reader's browser chooses the language."""
    parts = [config.to_query(short), urlencode(extra), urlencode({"lang": lang}) if lang else ""]
    query = "&".join(part for part in parts if part)
    return f"{path}?{query}" if query else path


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (tuple, list)):
        return ",".join(_format(v) for v in value)
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """What was wrong with one field: an English ``message`` for the API, and a ``code`` with
    ``params`` from which the page words it in the student's language (see app/i18n.py)."""

    field: str
    message: str
    code: str = "invalid"
    params: tuple[tuple[str, str], ...] = ()


class ConfigError(ValueError):
    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


LIST_FIELDS = ("features", "layers", "hide")


def validate_config(data: Mapping[str, Any], strict: bool = False) -> PlaygroundConfig:
    """Validate a whole configuration; ConfigError lists a message for each bad field.

    ``strict``: the values are JSON's (the API), each of its field's type: no ``true`` for a
    number, no ``0`` or ``"yes"`` for a boolean, no text for a number. Otherwise they may be text
    from a form or a URL, which pydantic converts."""
    try:
        if strict:
            config = PlaygroundConfig.model_validate({k: _json_value(v) for k, v in data.items()}, strict=True)
        else:
            config = PlaygroundConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError([_field_error(e) for e in exc.errors()]) from None
    cross = _cross_field_error(config) or _own_data_error(config)
    if cross:
        raise ConfigError([cross])
    return config


def whole_number_as_int(value: Any) -> Any:
    """84.0 is an integer in JSON (and its schema), though pydantic's strict mode refuses it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _json_value(value: Any) -> Any:
    """A JSON value as strict validation takes it: an array as a tuple (the configuration's
    lists are flat; anything deeper is refused as it stands, never walked)."""
    return tuple(whole_number_as_int(v) for v in value) if isinstance(value, list) else whole_number_as_int(value)


def _own_data_error(config: PlaygroundConfig) -> FieldError | None:
    """Drawn points must fit the playground's problem and classes; an uploaded set is looked up
    (and checked against the problem) where the data is stored, not here."""
    if config.points is not None and config.data is not None:
        return FieldError("points", "give drawn points or uploaded data, not both", "points_and_data")
    if config.points is not None:
        try:
            points_dataset(config.points, config.problem, config.classes)
        except PointsError as exc:
            return FieldError("points", str(exc), "points_invalid", (("reason", str(exc)),))
    return None


def _field_error(error: Mapping[str, Any]) -> FieldError:
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else "config"
    message, code = error["msg"], error["type"]
    params = {k: _format(v) if not isinstance(v, str) else v for k, v in (error.get("ctx") or {}).items()}
    if code == "literal_error":  # pydantic joins the last two with an English "or"
        params["expected"] = params.get("expected", "").replace("' or '", "', '")
    if code == "extra_forbidden":  # (the API names the allowed fields once per answer)
        message, params = "unknown setting", {"allowed": ", ".join(PlaygroundConfig.model_fields)}
    elif len(loc) > 1 and loc[1].isdigit():
        message = f"item {int(loc[1]) + 1}: {message}"
    return FieldError(field, message, code, tuple(sorted(params.items())))


def _cross_field_error(config: PlaygroundConfig) -> FieldError | None:
    """Rules that involve two fields, reported on the field a student would change."""
    try:
        config.to_setup()
    except ValueError as exc:
        return engine_field_error(exc)
    return None


# The engine's names (Setup fields, arguments) that the configuration spells otherwise.
_CONFIG_NAMES = {"learning_rate": "lr", "hidden": "layers", "feature": "features", "batch_size": "batch",
                 "train_fraction": "train", "n_classes": "classes", "regularization": "reg",
                 "regularization_rate": "reg_rate"}
# What pydantic cannot check, the engine refuses: the rules between two fields, named by the field
# a student would change (the page words them, and resets them when the problem type changes).
_RULE_CODES = {"loss": "loss_needs_classes", "optimizer": "perceptron_shape", "convention": "tfpg_needs"}


def engine_field_error(exc: ValueError) -> FieldError:
    """The engine's error on the configuration field it is about ("config" if it names none)."""
    field = exc.field if isinstance(exc, InvalidValue) else "config"
    name = _CONFIG_NAMES.get(field, field)
    if name not in PlaygroundConfig.model_fields:
        return FieldError("config", str(exc))
    return FieldError(name, str(exc), _RULE_CODES.get(name, "invalid"))


def config_body_schema() -> dict[str, Any]:
    """The JSON schema of a configuration as the API takes it: any of PlaygroundConfig's fields,
    and the engine's rules between fields, so that what the schema allows the server accepts."""
    by_problem = {problem: [name for name, d in DATASETS.items() if d.problem == problem]
                  for problem in {d.problem for d in DATASETS.values()}}
    binary_default = DATASETS[_DEFAULTS["dataset"]].problem == "binary"
    perceptron_needs = {"required": ["layers"] if binary_default else ["layers", "dataset"],
                        "properties": {"layers": {"maxItems": 0}, "dataset": {"enum": by_problem["binary"]}}}
    cross_entropy_on_regression = {"required": ["dataset", "loss"], "properties": {
        "dataset": {"enum": by_problem["regression"]}, "loss": {"const": "cross_entropy"}}}
    tfpg_needs = {"properties": {  # the dataset's default is a two-class one
        "dataset": {"enum": [name for problem in TFPG_PROBLEMS for name in by_problem[problem]]},
        "loss": {"const": "auto"}, "optimizer": {"const": "sgd"}}}
    return {
        **PlaygroundConfig.model_json_schema(),
        "allOf": [
            {"not": cross_entropy_on_regression},  # engine.losses.check_loss
            {"not": {"required": ["points", "data"], "properties": {  # _own_data_error
                "points": {"type": "string"}, "data": {"type": "string"}}}},
            {"if": {"required": ["optimizer"], "properties": {"optimizer": {"const": "perceptron"}}},
             "then": perceptron_needs},  # engine.nongradient.check_method_fits
            {"if": {"required": ["convention"], "properties": {"convention": {"const": "tfpg"}}},
             "then": tfpg_needs},  # engine.tfpg.check_fits
        ],
    }


def parse_form_values(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Raw strings from a query or form (repeated keys allowed) -> the values to validate.

    List fields accept both ``layers=4,2`` and repeated keys; an empty ``layers=`` means no
    hidden layer. Other empty values are left out (their defaults apply). Booleans are written
    1/0 (pydantic also takes true/false, on/off, yes/no, and refuses anything else)."""
    values: dict[str, Any] = {}
    for key, raw in items:
        if key in LIST_FIELDS:
            parts = [p.strip() for p in raw.split(",") if p.strip()]
            values[key] = (*values.get(key, ()), *parts)
        elif not raw.strip():
            continue  # an emptied box (an optional hyper-parameter, say) means "not set"
        else:
            values[key] = raw.strip()
    return values


def parse_query(items: list[tuple[str, str]], ignore: tuple[str, ...] = ()) -> tuple[PlaygroundConfig, list[FieldError]]:
    """Read a URL query leniently: a bad or unknown value falls back to its default and is
    reported, so a hand-edited link always opens a working page. Keys in ``ignore`` (such as
    ``lang``) belong to the page, not to the configuration."""
    values = parse_form_values([(k, v) for k, v in items if k not in ignore])
    notes: list[FieldError] = []
    for _ in range(len(values) + 1):
        try:
            return validate_config(values), notes
        except ConfigError as exc:
            given = dict(values)
            for error in first_error_per_field(exc.errors):
                if error.field in given:
                    rejected = _format(given[error.field])
                    notes.append(FieldError(error.field, f"{rejected!r} ignored: {error.message}", error.code,
                                            (*error.params, ("rejected", rejected))))
                    values.pop(error.field, None)
                else:  # a rule between fields, named on one that was not given: start afresh
                    notes.append(error)
                    values.clear()
    return PlaygroundConfig(), notes


def first_error_per_field(errors: list[FieldError]) -> list[FieldError]:
    """One error for each field (a list with two bad items is one mistake, said once)."""
    first: dict[str, FieldError] = {}
    for error in errors:
        first.setdefault(error.field, error)
    return list(first.values())
