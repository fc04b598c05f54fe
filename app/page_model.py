"""What the page templates show, computed here so that templates only format.

The network diagram's geometry, the dropdowns' choices, the small dataset previews and the
activation curve are plain data; the templates place them and the JavaScript animates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from app.config import (
    BATCH_SIZES,
    HIDEABLE,
    LEARNING_RATES,
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
    REG_RATES,
    PlaygroundConfig,
)
from engine.activations import ACTIVATIONS
from engine.datasets import DATASETS, FEATURE_LABELS, FEATURES, HALF_SIDE, PROBLEMS, SCALER_METHODS, make_dataset
from engine.losses import LOSSES, REGULARIZATIONS
from engine.network import INITIALIZATIONS
from engine.nongradient import NON_GRADIENT_METHODS
from engine.optimizers import OPTIMIZERS, SCHEDULES
from engine.tfpg import CONVENTIONS

# The diagram's geometry, in the units of its SVG viewBox (pixels at full size). The page scales
# the whole diagram down to the width its column has, so these fix proportions, not pixels.
NODE_SIZE = 40
ROW_HEIGHT = 50
LABEL_WIDTH = 56  # room left of the inputs for the features' names
MAX_COLUMN_WIDTH = 118  # from one layer's nodes to the next one's
MIN_COLUMN_WIDTH = 88
DIAGRAM_WIDTH = 620  # deep networks squeeze their columns towards this width (down to MIN_...)
NEW_LAYER_NEURONS = 2
PREVIEW_SIZE = 48  # the dataset picker's thumbnails, in pixels
# Okabe–Ito colours: told apart by students with any common colour-vision deficiency.
CLASS_COLOURS = ("#E69F00", "#0072B2", "#009E73", "#CC79A7", "#56B4E9")
NEGATIVE, POSITIVE = "#E69F00", "#0072B2"


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.3f}%"


@dataclass(frozen=True)
class Node:
    id: str
    x: int  # top left corner, in viewBox units
    y: int
    layer: int
    index: int
    kind: str  # "input", "hidden" or "output"
    label: str = ""
    left: str = ""  # the same corner as CSS percentages of the diagram's width and height
    top: str = ""


@dataclass(frozen=True)
class Edge:
    id: str
    path: str
    layer: int
    source: int
    target: int


@dataclass(frozen=True)
class HiddenLayerControls:
    x: int  # the centre of the layer's nodes, in viewBox units
    width: str  # the controls' share of the diagram's width (one column), a CSS percentage
    offset: str  # the first layer's: the space left of its controls, a CSS percentage
    neurons: int
    more: str | None  # the `layers` value after adding a neuron here (None at the limit)
    fewer: str | None


@dataclass(frozen=True)
class NetworkLayout:
    width: int  # the viewBox; the page shows the diagram at most this wide, smaller if need be
    height: int
    node_width: str  # a node's size as CSS percentages of the diagram's width and height
    node_height: str
    nodes: list[Node]
    edges: list[Edge]
    layer_controls: list[HiddenLayerControls]
    add_layer: str | None  # the `layers` value after adding a layer (None at the limit)
    remove_layer: str | None
    n_hidden: int


def _layers_value(layers: tuple[int, ...]) -> str:
    return ",".join(str(n) for n in layers)


def column_width(n_columns: int) -> int:
    """The distance between layers: the full one while the diagram stays within DIAGRAM_WIDTH,
    less for deep networks (so that scaled to its column their nodes stay larger)."""
    if n_columns < 2:
        return MAX_COLUMN_WIDTH
    fit = (DIAGRAM_WIDTH - LABEL_WIDTH - NODE_SIZE) // (n_columns - 1)
    return max(MIN_COLUMN_WIDTH, min(MAX_COLUMN_WIDTH, fit))


def network_layout(config: PlaygroundConfig, n_outputs: int) -> NetworkLayout:
    """Node positions (feature inputs, hidden layers, outputs: one per class for several
    classes) and a curve for every weight, in viewBox units; the page scales them to its width."""
    columns = [len(config.features), *config.layers, n_outputs]
    step = column_width(len(columns))
    width = LABEL_WIDTH + (len(columns) - 1) * step + NODE_SIZE + 4  # 4: the outputs' thicker border
    height = max(*columns, 2) * ROW_HEIGHT + 20
    nodes: list[Node] = []
    for layer, count in enumerate(columns):
        x = LABEL_WIDTH + layer * step
        top = (height - count * ROW_HEIGHT) // 2 + 5
        for index in range(count):
            kind = "input" if layer == 0 else "output" if layer == len(columns) - 1 else "hidden"
            label = FEATURE_LABELS[config.features[index]] if kind == "input" else ""
            y = top + index * ROW_HEIGHT
            nodes.append(Node(f"node-{layer}-{index}", x, y, layer, index, kind, label,
                              _percent(x, width), _percent(y, height)))
    by_layer = [[n for n in nodes if n.layer == layer] for layer in range(len(columns))]
    edges = []
    for layer in range(len(columns) - 1):
        for s in by_layer[layer]:
            for t in by_layer[layer + 1]:
                x0, y0 = s.x + NODE_SIZE, s.y + NODE_SIZE // 2
                x1, y1 = t.x, t.y + NODE_SIZE // 2
                mid = (x0 + x1) // 2
                path = f"M{x0},{y0} C{mid},{y0} {mid},{y1} {x1},{y1}"
                edges.append(Edge(f"edge-{layer}-{s.index}-{t.index}", path, layer, s.index, t.index))
    controls = []
    for i, count in enumerate(config.layers):
        more = list(config.layers)
        fewer = list(config.layers)
        more[i] += 1
        fewer[i] -= 1
        centre = LABEL_WIDTH + (i + 1) * step + NODE_SIZE // 2
        controls.append(HiddenLayerControls(
            x=centre,
            width=_percent(step, width),
            offset=_percent(centre - step / 2, width) if i == 0 else "0%",
            neurons=count,
            more=_layers_value(tuple(more)) if count < MAX_NEURONS else None,
            fewer=_layers_value(tuple(fewer)) if count > 1 else None,
        ))
    n_hidden = len(config.layers)
    return NetworkLayout(
        width=width,
        height=height,
        node_width=_percent(NODE_SIZE, width),
        node_height=_percent(NODE_SIZE, height),
        nodes=nodes,
        edges=edges,
        layer_controls=controls,
        add_layer=_layers_value((*config.layers, NEW_LAYER_NEURONS)) if n_hidden < MAX_HIDDEN_LAYERS else None,
        remove_layer=_layers_value(config.layers[:-1]) if n_hidden else None,
        n_hidden=n_hidden,
    )


@dataclass(frozen=True)
class Options:
    """The choices each dropdown offers. ``choices`` holds the named ones (kind -> names), whose
    labels come from the catalogue as ``kind.name``."""

    datasets_by_problem: dict[str, list[str]]
    choices: dict[str, tuple[str, ...]]
    features: tuple[str, ...]
    feature_labels: dict[str, str]
    feature_hide: dict[str, str]  # feature -> the name that hides its toggle in a lesson link
    optimizer_params: dict[str, list[tuple[str, float, float, float]]]
    schedule_params: dict[str, list[tuple[str, float, float, float]]]
    learning_rates: tuple[float, ...]
    reg_rates: tuple[float, ...]
    batch_sizes: tuple[int, ...]

    @property
    def problems(self) -> tuple[str, ...]:
        return self.choices["problem"]


FEATURE_HIDE = {name: f"feature_{name}" for name in FEATURES}
assert set(FEATURE_HIDE.values()) <= set(HIDEABLE), "app.config.HIDEABLE must name every feature's toggle"


def _params(registry) -> dict[str, list[tuple[str, float, float, float]]]:
    return {name: [(p.name, p.default, p.minimum, p.maximum) for p in spec.hyper] for name, spec in registry.items()}


OPTIONS = Options(
    datasets_by_problem={p: [n for n, s in DATASETS.items() if s.problem == p] for p in PROBLEMS},
    choices={
        "problem": PROBLEMS,
        "activation": tuple(ACTIVATIONS),
        "optimizer": (*OPTIMIZERS, *NON_GRADIENT_METHODS),
        "schedule": tuple(SCHEDULES),
        "reg": REGULARIZATIONS,
        "loss": ("auto", *LOSSES),
        "convention": CONVENTIONS,
        "preprocessing": SCALER_METHODS,
        "init": INITIALIZATIONS,
    },
    features=tuple(FEATURES),
    feature_labels=FEATURE_LABELS,
    feature_hide=FEATURE_HIDE,
    optimizer_params=_params(OPTIMIZERS),
    schedule_params=_params(SCHEDULES),
    learning_rates=LEARNING_RATES,
    reg_rates=REG_RATES,
    batch_sizes=BATCH_SIZES,
)


def first_dataset_of(problem: str) -> str:
    return OPTIONS.datasets_by_problem[problem][0]


@lru_cache(maxsize=None)
def dataset_preview(name: str) -> str:
    """A tiny SVG of the dataset (drawn once per process) for the dataset picker."""
    data = make_dataset(name, noise=0.0, seed=1)
    pick = np.random.default_rng(0).permutation(len(data.x))[:120]
    x, y = data.x[pick], data.y[pick]
    if data.problem == "regression":
        colours = [POSITIVE if v >= 0 else NEGATIVE for v in y]
    elif data.problem == "binary":
        colours = [POSITIVE if v >= 0.5 else NEGATIVE for v in y]
    else:
        colours = [CLASS_COLOURS[int(v)] for v in y]
    scale = PREVIEW_SIZE / (2 * HALF_SIDE)
    dots = "".join(
        f'<circle cx="{(px + HALF_SIDE) * scale:.1f}" cy="{(HALF_SIDE - py) * scale:.1f}" r="1.6" fill="{c}"/>'
        for (px, py), c in zip(x, colours)
    )
    size = PREVIEW_SIZE
    return f'<svg viewBox="0 0 {size} {size}" width="{size}" height="{size}" aria-hidden="true">{dots}</svg>'


@lru_cache(maxsize=None)
def activation_curve(name: str) -> dict[str, list[float]]:
    """The activation and its derivative on [-5, 5], for the small chart beside the network."""
    activation = ACTIVATIONS[name]
    z = np.linspace(-5, 5, 201)
    a = activation.function(z)
    return {
        "z": np.round(z, 3).tolist(),
        "f": np.round(a, 4).tolist(),
        "df": np.round(activation.derivative(z, a), 4).tolist(),
    }
