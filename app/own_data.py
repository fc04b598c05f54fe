"""A playground's own data: the drawn or uploaded set its configuration names, and the trainer
operation that moves a trainer to a configuration together with its data.

The configuration only names the data (``points=...`` carries a drawn set itself, ``data=<hash>``
an uploaded one), so the same link gives the same data. Looking an uploaded set up needs the
data store (app/datastore.py: the disk, or Redis), so it happens here, in the server process,
and the dataset travels to the trainer with the engine's Setup.
"""

from __future__ import annotations

import numpy as np

from app.config import ConfigError, FieldError, PlaygroundConfig
from app.datastore import DataStore, data_hash
from app.points import points_dataset
from engine.datasets import Dataset, dataset_from_dict
from engine.trainer import Setup, Trainer


def own_dataset(config: PlaygroundConfig, store: DataStore | None = None) -> Dataset | None:
    """The drawn or uploaded set ``config`` names (None: a generated one); ConfigError if it
    cannot be had or does not fit the configuration. Without a ``store`` no upload is found."""
    if config.points is not None:
        return points_dataset(config.points, config.problem, config.classes)
    if config.data is None:
        return None
    try:
        if store is None:
            raise LookupError(config.data)
        dataset = store.get(config.data)
    except LookupError:
        raise ConfigError([FieldError("data", "this server has no uploaded data with that hash (never uploaded, or expired); "
                                              "upload the file again",
                                      "data_missing")]) from None
    except (OSError, ValueError) as exc:
        raise ConfigError([FieldError("data", f"the stored data cannot be read: {exc}", "data_unreadable")]) from None
    if dataset.problem != config.problem:
        raise ConfigError([FieldError("dataset", f"the uploaded data is a {dataset.problem} problem, "
                                                 f"the dataset {config.dataset!r} a {config.problem} one",
                                      "data_problem", (("problem", dataset.problem),))])
    if dataset.problem == "multiclass" and dataset.n_classes != config.classes:
        raise ConfigError([FieldError("classes", f"the uploaded data has {dataset.n_classes} classes",
                                      "data_classes", (("classes", str(dataset.n_classes)),))])
    return dataset


def check_saved_data(config: PlaygroundConfig, saved: dict | None, store: DataStore) -> None:
    """A model file's data must be the data its configuration names. An uploaded set it carries
    is stored here, so the model's link works on this server too. ConfigError otherwise."""
    try:
        dataset = None if saved is None else dataset_from_dict(saved)
    except ValueError as exc:
        raise ConfigError([FieldError("trainer.custom_data", str(exc))]) from None
    if config.data is not None:
        if dataset is None or data_hash(dataset) != config.data:
            raise ConfigError([FieldError("trainer.custom_data", "is not the data of config.data (its hash differs)")])
        store.put(dataset)
    elif not same_data(dataset, own_dataset(config)):
        raise ConfigError([FieldError("trainer.custom_data", "is not the data the config names")])


def same_data(a: Dataset | None, b: Dataset | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.problem, a.n_classes) == (b.problem, b.n_classes) and np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


def reconfigure(trainer: Trainer, setup: Setup, data: Dataset | None = None) -> str:
    """``Trainer.reconfigure`` that also follows a change of the data (then everything is new:
    'data'). Runs where the trainer lives; on ValueError the trainer is unchanged."""
    if same_data(trainer.custom_data, data):
        return trainer.reconfigure(setup)
    fresh = Trainer(setup, data)
    trainer.__dict__.clear()
    trainer.__dict__.update(fresh.__dict__)
    return "data"
