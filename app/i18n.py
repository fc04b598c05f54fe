"""Spanish and English catalogues, and the choice of language.

Every string a student sees is looked up here by key. The Spanish wording follows the primer the
playground teaches from (neurona, pesos y sesgo, función de coste, descenso de gradiente, ...).
A key with a ``.one`` variant is used when ``count`` is 1.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Callable

from app.catalogue_en import EN
from app.catalogue_es import ES
from app.config import FieldError

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "es": ES}
LANGUAGES = (("en", "English"), ("es", "Español"))
DEFAULT_LANGUAGE = "en"

Translator = Callable[..., str]

# How each language writes numbers, as the browser's toLocaleString does: the decimal mark, the
# thousands separator and the fewest digits before it is used (Spanish groups from 10.000).
DECIMAL_MARK = {"en": ".", "es": ","}
GROUP_MARK = {"en": ",", "es": "."}
MIN_GROUPED_DIGITS = {"en": 4, "es": 5}
MAX_ECHOED = 40  # characters of a rejected value that a message repeats


def number_separators(lang: str) -> str:
    """The decimal mark and the thousands separator, as Plotly's ``separators`` layout wants them."""
    return DECIMAL_MARK[lang] + GROUP_MARK[lang]


def format_number(value: float | int | str, lang: str, grouped: bool = True) -> str:
    """A number as a student in ``lang`` reads it: ``0,00001`` not ``1e-05``, ``10`` not ``10.0``,
    the decimal comma in Spanish; the shortest text that means the same number. A box the
    student edits shows it without thousands separators (``grouped=False``), so that posting it
    back reads the same number."""
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    text = format(Decimal(str(value) if isinstance(value, int) else repr(number)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.partition(".")
    if grouped and len(whole) >= MIN_GROUPED_DIGITS[lang]:
        groups = [whole[max(0, end - 3):end] for end in range(len(whole), 0, -3)]
        whole = GROUP_MARK[lang].join(reversed(groups))
    return sign + whole + (DECIMAL_MARK[lang] + fraction if fraction else "")


def read_number(text: str, lang: str) -> str:
    """What a student typed in a number box, in the notation the validator reads: Spanish
    ``0,5`` is ``0.5`` (a text with a point is left as it is, so ``0.5`` works too)."""
    mark = DECIMAL_MARK[lang]
    if mark != "." and mark in text and "." not in text:
        return text.replace(mark, ".")
    return text


def shorten(text: str) -> str:
    """A rejected value as a message repeats it: a pasted essay is cut to its beginning."""
    return text if len(text) <= MAX_ECHOED else f"{text[:MAX_ECHOED]}…"


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


def describe_error(t: Translator, error: FieldError, lang: str) -> str:
    """A field error in the student's language, e.g. «Tasa de aprendizaje: debe ser ≤ 10», with
    the rejected value when there is one (``params["rejected"]``, shortened): «Tasa de
    aprendizaje «abc»: …». Numbers in the message are written the way ``lang`` writes them."""
    params = dict(error.params)
    rejected = params.pop("rejected", None)
    params = {key: _localised(value, lang) for key, value in params.items()}
    field, code, fallback = error.field, error.code, error.message
    name = t(f"field.{field}") if f"field.{field}" in CATALOGUES_KEYS else field
    if rejected is not None:
        name = f"{name} «{shorten(rejected)}»"
    key = f"error.{code}"
    if key not in CATALOGUES_KEYS:
        return f"{name}: {fallback}"
    return f"{name}: {t(key, **params)}"


def _localised(value: str, lang: str) -> str:
    """A limit from the validator (``"0.0"``, ``"1e-08"``) in the student's notation; other
    parameters (names, lists) as they are."""
    try:
        number = float(value)
    except ValueError:
        return value
    return format_number(number, lang) if math.isfinite(number) else value


CATALOGUES_KEYS = frozenset(EN)
