"""Ready-made configurations for the page's gallery: each one shows one idea of the primer.

An entry is a key (its title and one line of text are ``gallery.<key>.title`` and
``gallery.<key>.text`` in the catalogues) and the changes it makes to the default configuration.
tests/api/test_classroom.py builds every entry and checks the claims the texts make with the
engine (the single neuron fails on XOR, the high learning rate diverges, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from app.config import PlaygroundConfig, page_url


@dataclass(frozen=True)
class GalleryEntry:
    key: str
    changes: Mapping[str, Any]

    def config(self, base: PlaygroundConfig | None = None) -> PlaygroundConfig:
        """The entry's configuration; from ``base`` only the page layout (hidden controls and
        text) is kept, so that a lesson link's layout survives a click in the gallery."""
        start = PlaygroundConfig() if base is None else PlaygroundConfig(hide=base.hide, hide_text=base.hide_text)
        return start.with_changes(**self.changes)


def _entry(key: str, **changes: Any) -> GalleryEntry:
    return GalleryEntry(key, MappingProxyType(changes))


_SPIRAL_FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")

GALLERY: tuple[GalleryEntry, ...] = (
    _entry("xor_single_neuron", dataset="xor", layers=()),
    _entry("xor_hidden_layer", dataset="xor", layers=(4, 2)),
    _entry("deep_sigmoid", dataset="circle", layers=(4, 4, 4, 4, 4, 4), activation="sigmoid"),
    _entry("lr_too_high", dataset="plane", lr=3.0),
    _entry("circle_squares", dataset="circle", layers=(), features=("x1sq", "x2sq")),
    _entry("l2_small_data", dataset="circle", train=10, noise=40, layers=(8, 8, 8), lr=0.1, reg="l2", reg_rate=0.03),
    _entry("mini_batch", dataset="circle", optimizer="sgd", batch=1),
    _entry("full_batch", dataset="circle", optimizer="gd"),
    _entry("step_activation", dataset="circle", activation="step"),
    _entry("random_search", dataset="spiral", features=_SPIRAL_FEATURES, layers=(8, 8, 6), optimizer="random_search"),
    _entry("gradient_descent", dataset="spiral", features=_SPIRAL_FEATURES, layers=(8, 8, 6), optimizer="sgd"),
)


@dataclass(frozen=True)
class GalleryLink:
    key: str
    href: str


def gallery_links(current: PlaygroundConfig, lang: str) -> list[GalleryLink]:
    """One link per entry, in the page's language and the current page layout."""
    return [GalleryLink(e.key, page_url(e.config(current), lang)) for e in GALLERY]
