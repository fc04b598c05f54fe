"""Reading a training run's loss curve: has it stopped improving and started to thrash?

A learning rate far too high but not high enough to diverge (10 on the spiral with tanh, or on
the circle with ReLU) makes the loss jump between 1 and 4 for ever. The numbers stay finite, so
nothing else flags it; a student needs to be told that the steps overshoot.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

OSCILLATION_WINDOW = 30  # epochs looked at
OSCILLATION_SWING = 0.2  # mean change from one epoch to the next, as a share of the mean loss
STUCK_SHARE = 0.6  # the window's mean loss is at least this share of the window's before it
UNLEARNED_SHARE = 0.5  # the loss is still at least this share of where it started


def oscillating(train_loss: Sequence[float]) -> bool:
    """True when, over the last OSCILLATION_WINDOW epochs, the training loss swung by more than
    OSCILLATION_SWING of itself from epoch to epoch, kept STUCK_SHARE of the mean of the window
    before it, and stayed above UNLEARNED_SHARE of its start (a converged loss near zero may jitter
    in relative terms; that is not this)."""
    losses = np.asarray(train_loss[-2 * OSCILLATION_WINDOW:], dtype=float)
    if len(losses) < 2 * OSCILLATION_WINDOW or not np.isfinite(losses).all():
        return False
    before, window = losses[:OSCILLATION_WINDOW], losses[OSCILLATION_WINDOW:]
    mean = float(window.mean())
    swing = float(np.mean(np.abs(np.diff(window)))) / mean if mean > 0 else 0.0
    stuck = mean >= STUCK_SHARE * float(before.mean())
    return swing > OSCILLATION_SWING and stuck and mean >= UNLEARNED_SHARE * float(train_loss[0])
