"""TensorFlow Playground links: ``playground.tensorflow.org/#activation=tanh&...`` read into a
PlaygroundConfig, with a note for each setting that has no counterpart here.

TensorFlow Playground keeps its whole state in the address's fragment (its ``state.ts``). Most
settings map one to one (its datasets, features, activations and limits are the ones this
playground started from); its random seed cannot be reproduced, and a few settings (statistics,
tutorials) do not exist here. The playground opens with TensorFlow Playground's own set-up
(``convention=tfpg``, engine/tfpg.py: tanh output, ±1 labels, ½(o − t)², no reshuffling) and
its initial weights, so that it trains with TF's own numbers. The notes travel to the page in the ``tfpg`` query key as
``kind.name`` pairs, so the page can word them in the student's language.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from app.config import MAX_SEED, ConfigError, FieldError, PlaygroundConfig, page_url, validate_config

TFPG_HOST = "playground.tensorflow.org"
NOTE_KINDS = ("seed", "unsupported", "invalid", "address")
MAX_URL = 4000
MAX_NOTES = 30

_CLASSIFICATION = {"circle": "circle", "xor": "xor", "gauss": "gauss", "spiral": "spiral"}
_REGRESSION = {"reg-plane": "plane", "reg-gauss": "gaussians"}
_FEATURES = {"x": "x1", "y": "x2", "xTimesY": "x1x2", "xSquared": "x1sq", "ySquared": "x2sq",
             "sinX": "sinx1", "sinY": "sinx2", "cosX": "cosx1", "cosY": "cosx2"}
_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
_REGULARIZATIONS = {"none": "none", "L1": "l1", "L2": "l2"}
# TF's `<setting>_hide=true` hides a control; these have one here.
_HIDDEN = {"dataset": "dataset", "noise": "noise", "percTrainData": "train", "batchSize": "batch",
           "networkShape": "layers", "activation": "activation", "learningRate": "lr", "regularization": "reg",
           "regularizationRate": "reg", "problem": "problem", "showTestData": "show_test",
           "discretize": "discretize", **{tf: f"feature_{ours}" for tf, ours in _FEATURES.items()}}
_NUMBERS = {"noise": "noise", "percTrainData": "train", "batchSize": "batch", "learningRate": "lr",
            "regularizationRate": "reg_rate"}
_FLAGS = {"showTestData": "show_test", "discretize": "discretize", "hideText": "hide_text"}
_HANDLED = {"dataset", "regDataset", "problem", "activation", "regularization", "networkShape", "seed",
            "initZero", *_FEATURES, *_NUMBERS, *_FLAGS}


def tfpg_fragment(url: str) -> list[tuple[str, str]]:
    """The settings of a TensorFlow Playground address (its fragment, or its query without one).
    ValueError if it is not such an address."""
    url = url.strip()
    if not url:
        raise ValueError("no address given")
    if len(url) > MAX_URL:
        raise ValueError(f"the address is longer than {MAX_URL} characters")
    parts = urlsplit(url if "://" in url or url.startswith("#") else f"https://{url}")
    if parts.netloc and parts.netloc.lower() not in (TFPG_HOST, f"www.{TFPG_HOST}"):
        raise ValueError(f"not a TensorFlow Playground address ({TFPG_HOST})")
    return parse_qsl(parts.fragment or parts.query, keep_blank_values=True)


def from_tfpg(items: list[tuple[str, str]]) -> tuple[PlaygroundConfig, list[tuple[str, str]]]:
    """The configuration a TensorFlow Playground state stands for, and its notes as
    ``(kind, setting)`` pairs: settings without a counterpart, or with a value that has none."""
    tf = dict(items)
    notes: list[tuple[str, str]] = []
    values: dict[str, Any] = {"init": "zeros" if tf.get("initZero") == "true" else "playground",
                              "convention": "tfpg"}
    regression = tf.get("problem") == "regression"
    table, key = (_REGRESSION, "regDataset") if regression else (_CLASSIFICATION, "dataset")
    if tf.get("problem", "classification") not in ("classification", "regression"):
        notes.append(("invalid", "problem"))
    _choose(values, notes, "dataset", key, tf.get(key), table)
    _choose(values, notes, "activation", "activation", tf.get("activation"), {a: a for a in _ACTIVATIONS})
    _choose(values, notes, "reg", "regularization", tf.get("regularization"), _REGULARIZATIONS)
    for name, ours in _NUMBERS.items():
        if name in tf:
            values[ours] = tf[name]
    for name, ours in _FLAGS.items():
        if name in tf:
            values[ours] = tf[name] == "true"
    if "networkShape" in tf:
        values["layers"] = tuple(n for n in tf["networkShape"].split(",") if n.strip())
    features = tuple(ours for name, ours in _FEATURES.items() if tf.get(name) == "true")
    if features:
        values["features"] = features
    values["hide"] = tuple(dict.fromkeys(ours for name, ours in _HIDDEN.items() if tf.get(f"{name}_hide") == "true"))
    if "seed" in tf:
        values["seed"] = _seed(tf["seed"])
        notes.append(("seed", "seed"))
    notes += [("unsupported", name) for name in tf
              if name not in _HANDLED and not (name.endswith("_hide") and name[:-5] in _HIDDEN)]
    return _validated(values, notes)


def _choose(values: dict[str, Any], notes: list[tuple[str, str]], ours: str, name: str, value: str | None,
            table: dict[str, str]) -> None:
    if value is None:
        return
    if value in table:
        values[ours] = table[value]
    else:
        notes.append(("invalid", name))


def _seed(text: str) -> int:
    """TF's seed is a text for its own random numbers; any text gives a seed here, the same one
    every time, so one TF link always opens the same playground."""
    digits = re.sub(r"\D", "", text)
    return int(digits[:9] or 0) % (MAX_SEED + 1)


def _validated(values: dict[str, Any], notes: list[tuple[str, str]]) -> tuple[PlaygroundConfig, list[tuple[str, str]]]:
    """Drop, with a note, each value this playground refuses (a batch of 0, say) until the rest holds."""
    tf_name = {ours: tf for tf, ours in {**_NUMBERS, **_FLAGS, "networkShape": "layers"}.items()}
    for _ in range(len(values) + 1):
        try:
            return validate_config(values), notes
        except ConfigError as exc:
            for error in exc.errors:
                notes.append(("invalid", tf_name.get(error.field, error.field)))
                values.pop(error.field, None)
    return PlaygroundConfig(), notes


def page_link(url: str, lang: str) -> str:
    """Where ``/from-tfpg?url=`` sends the browser: the playground of that TensorFlow Playground
    address, with its notes in ``tfpg`` (``seed.seed,unsupported.collectStats``), or the default
    playground with a note when it is not such an address."""
    try:
        config, notes = from_tfpg(tfpg_fragment(url))
    except ValueError:
        config, notes = PlaygroundConfig(), [("address", "url")]
    target = page_url(config, lang)
    return f"{target}&tfpg={quote(','.join(f'{k}.{n}' for k, n in dict.fromkeys(notes)), safe=',.')}" if notes else target


def read_notes(text: str) -> list[FieldError]:
    """The page's notes from a ``tfpg`` value; anything else in it is ignored (it is a link)."""
    errors = []
    for part in text.split(",")[:MAX_NOTES]:
        kind, _, name = part.partition(".")
        if kind in NOTE_KINDS and re.fullmatch(r"[A-Za-z_]{1,40}", name):
            errors.append(FieldError(name, f"{name}: no counterpart here ({kind})", f"tfpg_{kind}"))
    return errors
