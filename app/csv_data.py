"""CSV in and out: a student's file read into a dataset, and a dataset written back.

Reading is forgiving about form and strict about content. A header line is optional; commas
separate columns, or semicolons (then a decimal comma is read too, as a Spanish spreadsheet
writes it). The columns are x1, x2 and a label or target; a fourth column ``train``/``test`` (as
the download writes it) is allowed and ignored, since the playground makes its own split. Labels
may be two numbers (0/1, ±1: the lower is class 0), the class ids 0..K−1, or names (numbered in
alphabetical order); other numbers make a regression target. Every problem is reported with the
row (the file's line number) and the column, up to ``MAX_REPORTED`` of them.

Uploaded sets are stored in a canonical form (``canonical_csv``): the same data always gives the
same bytes, hence the same content hash and the same link.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass

import numpy as np

from app.config import ConfigError, FieldError
from engine.datasets import MAX_CLASSES, MIN_CLASSES, PROBLEMS, Dataset, dataset_from_arrays

MAX_CSV_BYTES = 200_000
MAX_DATA_ROWS = 2000
MAX_ABS_VALUE = 1e6  # coordinates and targets; beyond this x² features overflow the colours
MAX_REPORTED = 10
COLUMNS = ("x1", "x2", "label")
SPLITS = ("train", "test")
_CANONICAL_TITLE = "# nn-playground data v1 "


@dataclass(frozen=True)
class ReadData:
    """A file read into a dataset, with the class names when the labels were names."""

    dataset: Dataset
    class_names: tuple[str, ...] | None


class _Problems:
    """Collects field errors, and stops reading once there are enough to fix first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, row: int, column: str | None, code: str, message: str, **params: object) -> None:
        """One problem: the API names its row and column in the field, the page words it from
        ``code`` and ``params`` (which hold the row and column too)."""
        where = f"row {row}" + (f", column {column}" if column else "")
        values = {"row": row, "column": column or "", **params}
        self.errors.append(FieldError(where, message, code, tuple((k, str(v)) for k, v in values.items())))

    @property
    def full(self) -> bool:
        return len(self.errors) >= MAX_REPORTED

    def raise_any(self) -> None:
        if self.errors:
            raise ConfigError(self.errors)


def _number(cell: str, decimal_comma: bool) -> float | None:
    try:
        return float(cell.replace(",", ".") if decimal_comma else cell)
    except ValueError:
        return None


def read_csv(body: bytes, problem: str | None = None) -> ReadData:
    """A dataset from an uploaded file (``problem`` forces the kind of label); ConfigError lists
    what is wrong, each with its row and column."""
    if problem is not None and problem not in PROBLEMS:
        raise ConfigError([FieldError("problem", f"must be one of {', '.join(PROBLEMS)}")])
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError([FieldError("body", f"not UTF-8 text (byte {exc.start + 1})", "csv_not_text")]) from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise ConfigError([FieldError("body", "the file is empty", "csv_empty")])
    delimiter = ";" if ";" in lines[0][1] and "," not in lines[0][1].split(";")[0] else ","
    decimal_comma = delimiter == ";"
    rows = list(zip((n for n, _ in lines), csv.reader((line for _, line in lines), delimiter=delimiter)))
    first = rows[0][1]
    if len(first) >= 2 and _number(first[0], decimal_comma) is None and _number(first[1], decimal_comma) is None:
        rows = rows[1:]  # a header
    problems = _Problems()
    if len(rows) > MAX_DATA_ROWS:
        problems.add(rows[MAX_DATA_ROWS][0], None, "csv_rows", f"too many rows: at most {MAX_DATA_ROWS} points, "
                     f"got {len(rows)}", limit=MAX_DATA_ROWS, count=len(rows))
        problems.raise_any()
    points, labels, label_rows = [], [], []
    for number, cells in rows:
        cells = [cell.strip() for cell in cells]
        split_column = len(cells) == 4 and cells[3].lower() in SPLITS
        if len(cells) != 3 and not split_column:
            problems.add(number, None, "csv_columns", f"expected 3 columns ({', '.join(COLUMNS)}), got {len(cells)}",
                         count=len(cells))
        else:
            points.append([_value(problems, number, column, cell, decimal_comma)
                           for column, cell in zip(COLUMNS[:2], cells)])
            labels.append(cells[2])
            label_rows.append(number)
        if problems.full:
            break
    problems.raise_any()
    # labels are read once all are known: names or numbers
    return _labelled(np.array(points, dtype=np.float64).reshape(-1, 2), labels, label_rows, problem, decimal_comma)


def _value(problems: _Problems, row: int, column: str, cell: str, decimal_comma: bool) -> float:
    """A finite number of moderate size, or a problem reported at its row and column."""
    value = _number(cell, decimal_comma)
    if value is None:
        problems.add(row, column, "csv_not_number", f"{cell!r} is not a number", value=cell)
    elif not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:
        problems.add(row, column, "csv_not_finite", f"{cell!r} must be a finite number of size at most "
                     f"{MAX_ABS_VALUE:g}", value=cell, limit=f"{MAX_ABS_VALUE:g}")
    else:
        return value
    return math.nan  # reported; never used


def _labelled(x: np.ndarray, labels: list[str], rows: list[int], problem: str | None,
              decimal_comma: bool) -> ReadData:
    values = [_number(label, decimal_comma) for label in labels]
    names: tuple[str, ...] | None = None
    problems = _Problems()
    if all(v is not None for v in values) and problem != "binary" or problem == "regression":
        for row, label in zip(rows, labels):  # a target: a number, checked like the coordinates
            _value(problems, row, "label", label, decimal_comma)
            if problems.full:
                break
        problems.raise_any()
        y = np.array(values, dtype=np.float64)
        distinct = np.unique(y)
        if problem is None and len(distinct) == 2:
            problem = "binary"
            y = (y == distinct[1]).astype(np.float64)
        elif problem is None and np.array_equal(distinct, np.arange(len(distinct))) \
                and MIN_CLASSES <= len(distinct) <= MAX_CLASSES:
            problem = "multiclass"
        elif problem is None:
            problem = "regression"
    else:
        names = tuple(sorted(set(labels)))
        if len(names) > MAX_CLASSES:
            raise ConfigError([FieldError("column label", f"{len(names)} classes found ({', '.join(names[:8])}"
                                          f"{', ...' if len(names) > 8 else ''}); at most {MAX_CLASSES}",
                                          "csv_classes_many", (("count", str(len(names))), ("limit", str(MAX_CLASSES))))])
        if len(names) < 2:
            raise ConfigError([FieldError("column label", f"only one class found ({names[0]}); at least 2 are needed",
                                          "csv_classes_one", (("name", names[0]),))])
        y = np.array([names.index(label) for label in labels], dtype=np.float64)
        problem = problem or ("binary" if len(names) == 2 else "multiclass")
    try:
        return ReadData(dataset_from_arrays(x, y, problem), names)
    except ValueError as exc:
        raise ConfigError([FieldError("column label", str(exc), "csv_labels", (("reason", str(exc)),))]) from None


def _cells(x: np.ndarray, y: np.ndarray, problem: str) -> list[str]:
    """Rows ``x1,x2,label``: coordinates exact (repr), class ids as whole numbers."""
    labels = [str(int(v)) for v in y] if problem != "regression" else [repr(float(v)) for v in y]
    return [f"{a!r},{b!r},{label}" for (a, b), label in zip(x.tolist(), labels)]


def split_csv(train: Dataset, test: Dataset) -> str:
    """The current data as a student downloads it: one row per point, with its split."""
    rows = [f"{row},{split}" for data, split in ((train, "train"), (test, "test"))
            for row in _cells(data.x, data.y, data.problem)]
    return "\n".join([f"{','.join(COLUMNS)},split", *rows]) + "\n"


def canonical_csv(dataset: Dataset) -> bytes:
    """The stored form of an uploaded set: its problem on the first line, then the points in
    the order given. The same dataset always gives the same bytes."""
    lines = [_CANONICAL_TITLE + dataset.problem, ",".join(COLUMNS), *_cells(dataset.x, dataset.y, dataset.problem)]
    return ("\n".join(lines) + "\n").encode("ascii")


def read_canonical(content: bytes) -> Dataset:
    """A stored set back (ValueError if the file is not one ``canonical_csv`` wrote)."""
    title, header, *rows = content.decode("ascii").splitlines()
    problem = title.removeprefix(_CANONICAL_TITLE)
    if not title.startswith(_CANONICAL_TITLE) or problem not in PROBLEMS or header != ",".join(COLUMNS):
        raise ValueError("not a stored playground data file")
    table = np.array([[float(v) for v in row.split(",")] for row in rows], dtype=np.float64).reshape(-1, 3)
    return dataset_from_arrays(table[:, :2], table[:, 2], problem)
