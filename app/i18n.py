"""Spanish and English catalogues, and the choice of language.

Every string a student sees is looked up here by key. The Spanish wording follows the primer the
playground teaches from (neurona, pesos y sesgo, función de coste, descenso de gradiente, ...).
A key with a ``.one`` variant is used when ``count`` is 1.
"""

from __future__ import annotations

from typing import Callable

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.config import FieldError

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "es": ES}
LANGUAGES = (("en", "English"), ("es", "Español"))
DEFAULT_LANGUAGE = "en"

Translator = Callable[..., str]


def choose_language(requested: str | None, accept_language: str | None) -> str:
    """``?lang=`` first, else the browser's preferred language we have, else English."""
    if requested in CATALOGUES:
        return requested
    for part in (accept_language or "").split(","):
        tag, _, quality = part.strip().partition(";")
        code = tag.strip().lower()[:2]
        if code in CATALOGUES and not quality.strip().endswith("=0"):
            return code
    return DEFAULT_LANGUAGE


def translator(lang: str) -> Translator:
    """``t(key, **params)`` in ``lang``; a missing key shows itself, so a test can catch it."""
    catalogue = CATALOGUES[lang]

    def t(key: str, **params: object) -> str:
        if params.get("count") == 1 and f"{key}.one" in catalogue:
            key = f"{key}.one"
        text = catalogue.get(key, key)
        return text.format(**params) if params else text

    return t


def describe_error(t: Translator, error: FieldError) -> str:
    """A field error in the student's language, e.g. «Tasa de aprendizaje: debe ser ≤ 10», with
    the rejected value when there is one (``params["rejected"]``): «Tasa de aprendizaje «abc»: …»."""
    params = dict(error.params)
    rejected = params.pop("rejected", None)
    field, code, fallback = error.field, error.code, error.message
    name = t(f"field.{field}") if f"field.{field}" in CATALOGUES_KEYS else field
    if rejected is not None:
        name = f"{name} «{rejected}»"
    key = f"error.{code}"
    if key not in CATALOGUES_KEYS:
        return f"{name}: {fallback}"
    return f"{name}: {t(key, **params)}"


CATALOGUES_KEYS = frozenset(EN)
