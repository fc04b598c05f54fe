"""Drawn points in a URL: a few hundred points in a short, exact, URL-safe text.

A drawn set travels in the ``points`` setting of the configuration, so a shared link reproduces
it exactly. The text is base64url (no padding) of bytes ``[version, problem, x1, x2, label, x1,
x2, label, ...]``: each coordinate is quantised to one byte over the drawn square [-6, 6]
(``-6 + 12·q/255``, a step of 0.047, finer than a click on the chart), the label is the class id,
or for regression the value in [-1, 1] as ``(q - 100)/100`` (steps of 0.01, as the page's slider). Three bytes a point:
300 points make 1,200 characters. The page's data.js edits the same bytes when a student clicks.
"""

from __future__ import annotations

import base64
import binascii
import re

import numpy as np

from engine.datasets import HALF_SIDE, MAX_CLASSES, MIN_POINTS, Dataset

POINTS_VERSION = 1
MAX_DRAWN_POINTS = 300
PROBLEM_CODES = ("binary", "multiclass", "regression")  # the second byte is the index here
LEVELS = 255  # a coordinate byte q is -HALF_SIDE + 2·HALF_SIDE·q/LEVELS
VALUE_ZERO = 100  # a regression byte q is (q - VALUE_ZERO)/VALUE_ZERO, in [-1, 1]
_HEADER = 2
_PER_POINT = 3
MAX_POINTS_TEXT = 4 * (_HEADER + _PER_POINT * MAX_DRAWN_POINTS) // 3 + 4
# Every canonical text, as a pattern (the API's schema says it): the first 3 bytes (version 1, the
# problem's code, the first x1) are "AQ" and a character whose bits are the code and x1's top two
# bits; then whole groups of 3 bytes; then the last 2 bytes as 3 characters whose last 2 bits are
# zero (no padding). What it cannot say (the problem and classes the rest of the configuration
# has) the server checks.
_B64 = "[A-Za-z0-9_-]"
POINTS_PATTERN = rf"^AQ[A-L]{_B64}(?:{_B64}{{4}})*{_B64}{{2}}[AEIMQUYcgkosw048]$"


class PointsError(ValueError):
    """A ``points`` text that does not decode to a drawn set (the message says why)."""


def encode_points(problem: str, quantised: np.ndarray) -> str:
    """The text of a drawn set given as an (n, 3) array of bytes (x1, x2, label), in order."""
    rows = np.asarray(quantised, dtype=np.int64).reshape(-1, _PER_POINT)
    if rows.size and (rows.min() < 0 or rows.max() > LEVELS):
        raise PointsError("every byte of a drawn point must be in 0..255")
    raw = bytes([POINTS_VERSION, PROBLEM_CODES.index(problem)]) + rows.astype(np.uint8).tobytes()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_points(text: str) -> tuple[str, np.ndarray]:
    """The problem and the (n, 3) bytes of a drawn set; PointsError says what is wrong."""
    if len(text) > MAX_POINTS_TEXT:
        raise PointsError(f"too long: at most {MAX_DRAWN_POINTS} points may be drawn")
    try:  # (b64decode would skip characters outside the alphabet instead of refusing them)
        if not re.fullmatch(rf"{_B64}*", text):
            raise ValueError(text)
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PointsError("not base64url text") from None
    if len(raw) < _HEADER or raw[0] != POINTS_VERSION:
        raise PointsError(f"not drawn points of version {POINTS_VERSION}")
    if raw[1] >= len(PROBLEM_CODES) or (len(raw) - _HEADER) % _PER_POINT:
        raise PointsError("the text is cut short or garbled")
    if encode_points(PROBLEM_CODES[raw[1]], np.frombuffer(raw[_HEADER:], np.uint8)) != text:
        raise PointsError("not in canonical form")  # one drawn set, one text (and one URL)
    rows = np.frombuffer(raw[_HEADER:], dtype=np.uint8).reshape(-1, _PER_POINT).astype(np.int64)
    return PROBLEM_CODES[raw[1]], rows


def points_dataset(text: str, problem: str, n_classes: int) -> Dataset:
    """The dataset a drawn set stands for, in a playground of ``problem`` (and ``n_classes``)."""
    drawn_problem, rows = decode_points(text)
    if drawn_problem != problem:
        raise PointsError(f"these points were drawn for a {drawn_problem} problem, not {problem}")
    if len(rows) < MIN_POINTS:
        raise PointsError(f"draw at least {MIN_POINTS} points")
    x = -HALF_SIDE + 2 * HALF_SIDE * rows[:, :2] / LEVELS
    labels = rows[:, 2]
    if problem == "regression":
        if labels.max() > 2 * VALUE_ZERO:
            raise PointsError(f"a drawn value byte is {int(labels.max())}; values run from 0 to {2 * VALUE_ZERO}")
        return Dataset(x=x, y=(labels - VALUE_ZERO) / VALUE_ZERO, problem=problem, n_classes=0)
    classes = 2 if problem == "binary" else n_classes
    if labels.max() >= min(classes, MAX_CLASSES):
        raise PointsError(f"a drawn class is {int(labels.max())}; this playground has classes 0..{classes - 1}")
    if problem == "binary":
        return Dataset(x=x, y=labels.astype(np.float64), problem=problem, n_classes=2)
    return Dataset(x=x, y=labels, problem=problem, n_classes=classes)
