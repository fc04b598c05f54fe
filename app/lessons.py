"""The course: the primer's concepts in the primer's order, one lesson each.

A lesson is data: a key (its text is ``lessons.<key>.title``, ``.text``, ``.formula``, ``.try``,
``.question`` and ``.observe`` in the catalogues), the changes it makes to the default
playground, the controls it hides because they would distract, and optionally a view of its own
drawn by static/js/lessons.js. ``.observe`` is the lesson's claim about what will happen;
tests/api/test_lessons.py checks every claim with the engine, as the gallery's are.

On a lesson page the playground sits under the lesson's text, so the page's own furniture
(share and join links, the language switch, the lesson-link panel, the gallery, the article) is
hidden there as well: the lesson page has its own language switch and previous/next links.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from app.config import HIDEABLE, PlaygroundConfig

# Hidden on every lesson page: the lesson page offers these itself, or they lead elsewhere.
PAGE_FURNITURE = ("share", "join", "language", "lesson_links", "gallery")


@dataclass(frozen=True)
class Lesson:
    key: str
    changes: Mapping[str, Any]
    hide: tuple[str, ...]
    view: str | None = None  # a key of app.lesson_views.VIEWS

    def config(self) -> PlaygroundConfig:
        """The lesson's ready playground: its changes, the distracting controls hidden, no article."""
        hidden = {*self.hide, *PAGE_FURNITURE}
        return PlaygroundConfig().with_changes(
            **self.changes, hide=tuple(name for name in HIDEABLE if name in hidden), hide_text=True)


def _lesson(key: str, hide: str, view: str | None = None, **changes: Any) -> Lesson:
    return Lesson(key, MappingProxyType(changes), tuple(hide.split()), view)


# Controls that never matter to a lesson about something else.
_DATA = "dataset noise train regenerate classes problem"
_TUNING = "optimizer schedule reg init loss batch preprocessing"
_SPIRAL_FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")

LESSONS: tuple[Lesson, ...] = (
    _lesson("neuron", f"{_DATA} {_TUNING} layers features activation show_test discretize",
            dataset="gauss", layers=(), init="zeros"),
    _lesson("activation", f"{_DATA} {_TUNING} features layers", dataset="circle", layers=(4,), activation="step"),
    _lesson("init", f"{_DATA} optimizer schedule reg loss batch preprocessing features layers",
            dataset="circle", layers=(4,), init="zeros"),
    _lesson("standardize", f"{_DATA} optimizer schedule reg init loss batch activation layers features",
            view="standardize", dataset="plane", layers=(), features=("x1", "x2", "x1sq", "x2sq")),
    _lesson("cost", f"{_DATA} optimizer schedule reg init batch preprocessing features layers activation",
            dataset="gauss", layers=(), init="zeros", loss="mse"),
    _lesson("gradient", f"{_DATA} {_TUNING} features layers activation", dataset="plane"),
    _lesson("bruteforce", f"{_DATA} schedule reg init loss batch preprocessing features activation",
            view="cost_surface", dataset="spiral", features=_SPIRAL_FEATURES, layers=(8, 8, 6), optimizer="random_search"),
    _lesson("sgd", f"{_DATA} schedule reg init loss preprocessing features layers activation",
            dataset="circle", batch=1),
    _lesson("decay", f"{_DATA} optimizer reg init loss batch preprocessing features layers activation",
            dataset="circle", lr=3.0, schedule="exponential", gamma=0.97),
    _lesson("regularization", f"{_DATA} optimizer schedule init loss batch preprocessing features activation",
            dataset="circle", train=10, noise=40, layers=(8, 8, 8), lr=0.1, reg="l2", reg_rate=0.03, show_test=True),
    _lesson("backprop", f"{_DATA} {_TUNING} features layers", view="backprop", dataset="xor", layers=(2,), batch=4),
    _lesson("perceptron", f"noise train regenerate classes problem {_TUNING} layers features activation",
            view="perceptron", dataset="gauss", layers=(), optimizer="perceptron", noise=5, seed=15),
    _lesson("regression", f"{_DATA} {_TUNING} features activation", dataset="plane", layers=()),
    _lesson("hidden", f"{_DATA} {_TUNING} features", dataset="xor", layers=()),
    _lesson("softmax", f"noise train regenerate problem {_TUNING} activation", dataset="blobs", layers=()),
)


def lesson_at(number: int) -> Lesson | None:
    """Lesson ``number``, counted from 1 as on the page, or None."""
    return LESSONS[number - 1] if 1 <= number <= len(LESSONS) else None
