"""A run that goes wrong: divergence is caught while the weights are still usable, and a loss
that thrashes without improving is recognised (issue 7, "Also broken in the live view")."""

from dataclasses import replace

import numpy as np
import pytest

from engine.progress import OSCILLATION_WINDOW, oscillating
from engine.trainer import DIVERGENCE_FACTOR, Setup, Trainer

SPIRAL_FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")


def test_divergence_stops_while_the_loss_is_still_readable():
    # The gallery's "learning rate too high": the loss used to reach 6e225 before it stopped.
    trainer = Trainer(Setup(dataset="plane", learning_rate=3.0))
    trainer.step(50)
    assert trainer.divergence is not None
    start = trainer.history.train_loss[0]
    assert max(trainer.history.train_loss) <= DIVERGENCE_FACTOR * max(1.0, start)
    assert max(trainer.history.test_loss) <= DIVERGENCE_FACTOR * max(1.0, start)


def test_a_smaller_learning_rate_after_divergence_learns_from_the_kept_weights():
    trainer = Trainer(Setup(dataset="plane", learning_rate=3.0))
    trainer.step(50)
    assert trainer.divergence is not None
    start = trainer.history.train_loss[0]
    trainer.reconfigure(replace(trainer.setup, learning_rate=0.01))
    assert trainer.step(30) == 30
    assert trainer.history.train_loss[-1] < start


def test_a_hand_set_huge_weight_that_training_brings_down_is_not_divergence():
    trainer = Trainer(Setup(dataset="plane", learning_rate=0.01))
    trainer.step(2)
    trainer.set_weight(2, 0, 0, 50.0)  # into the output: the loss jumps to hundreds
    assert trainer.history.train_loss[-1] > DIVERGENCE_FACTOR
    trainer.step(5)
    assert trainer.divergence is None
    assert trainer.history.train_loss[-1] < trainer.history.train_loss[-6]


@pytest.mark.parametrize("setup", [
    Setup(dataset="spiral", features=SPIRAL_FEATURES, learning_rate=10.0),
    Setup(dataset="circle", activation="relu", learning_rate=10.0),
])
def test_a_learning_rate_too_high_to_settle_is_called_oscillating(setup):
    trainer = Trainer(setup)
    trainer.step(150)
    assert trainer.divergence is None
    assert oscillating(trainer.history.train_loss)


@pytest.mark.parametrize("setup", [
    Setup(),
    Setup(learning_rate=1.0),
    Setup(batch_size=1),
    Setup(dataset="spiral", features=SPIRAL_FEATURES, hidden=(8, 8, 6), learning_rate=0.1),
])
def test_ordinary_training_is_not_called_oscillating(setup):
    trainer = Trainer(setup)
    for _ in range(30):
        trainer.step(10)
        assert not oscillating(trainer.history.train_loss), trainer.epoch


def test_too_short_or_non_finite_curves_are_not_oscillating():
    thrash = [1.0, 4.0] * OSCILLATION_WINDOW
    assert oscillating(thrash)
    assert not oscillating(thrash[: 2 * OSCILLATION_WINDOW - 1])
    assert not oscillating([*thrash[:-1], np.nan])
