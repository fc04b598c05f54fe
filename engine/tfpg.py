"""TensorFlow Playground's own set-up, so that the same weights give the same numbers as there.

This playground's usual conventions (a sigmoid output with 0/1 labels and cross-entropy, the
points reshuffled every epoch) are the primer's. TensorFlow Playground (playground.tensorflow.org:
its ``src/nn.ts`` and ``src/playground.ts``) chose otherwise, and a student who compares the two
sees other numbers from the same weights. The ``tfpg`` convention of ``Setup`` trains its way:

- two classes: the output node is tanh and the labels are −1 and +1; a point counts as class 1
  where the output is ≥ 0 (as its heatmap's "discretize" draws it). Regression: a linear output.
- the error of a point is ½(o − t)², its derivative o − t; the loss it plots is the mean of
  ½(o − t)² over the points, without the regularization penalty.
- the data are shuffled once, when made; every epoch goes through the training points in that
  order (no reshuffling).
- each point is backpropagated and its derivatives summed; after every ``batchSize`` points of
  an epoch (``(i + 1) % batchSize == 0``) each bias moves by −α·(sum / count) and each weight by
  −α·(sum / count), then by −α·λ·R′(w) with R′ taken at the weight before this update (L2: w;
  L1: the sign of w, 0 at 0). The penalty's step is not divided by the batch's size, and biases
  have none.
- an L1 step that takes a weight across 0 sets it to 0, and that link is dead: never updated
  again (until the network is rebuilt).
- points that do not fill a last batch keep their derivatives for the next epoch's first update,
  which averages them with the first ``batchSize`` points of that epoch.
- plain SGD only (TF Playground has no other optimizer), and no problem with several classes.

One convention rather than a loss, an output and a shuffle flag of their own: these choices only
give TF Playground's numbers together, and apart they would be combinations neither playground
has. The gradient is the engine's (``Network._batch_gradient``: the compiled forward/backward
that the tests tie to the readable one); the mean of a batch's derivatives o − t is exactly the
gradient of its mean ½(o − t)². Only the update below is TF Playground's, run in NumPy one batch
at a time: there is no compiled whole-epoch loop for this convention.
"""

from __future__ import annotations

import numpy as np

from engine.errors import InvalidValue

Array = np.ndarray
CONVENTIONS = ("standard", "tfpg")
OUTPUT_BY_PROBLEM = {"binary": "tanh", "regression": "linear"}
DECISION_THRESHOLD = 0.0  # tanh's middle: class 1 where the output is ≥ 0


def check_fits(problem: str, loss: str, optimizer: str) -> None:
    """Refuse what TF Playground's set-up cannot train: several classes, a loss of one's own
    (its loss comes with it) or an optimizer other than plain SGD."""
    if problem not in OUTPUT_BY_PROBLEM or loss != "auto" or optimizer != "sgd":
        raise InvalidValue(
            "convention",
            "TensorFlow Playground's set-up needs two classes or regression, the automatic loss and plain SGD "
            f"('sgd'); got a {problem} problem, loss {loss!r} and optimizer {optimizer!r}",
        )


def signed_labels(y: Array) -> Array:
    """Two-class labels 0/1 as TF Playground's −1/+1."""
    return 2.0 * y - 1.0


def epoch_batches(n: int, batch: int, pending: int) -> tuple[list[slice | Array], int]:
    """The training rows behind each update of one epoch over ``n`` points in order, ``batch``
    points an update (1 ≤ batch ≤ n), and how many points are left pending at its end. The
    ``pending`` points left by the epoch before (the last ones of the order) join its first update.
    Rows are slices (views of the data, not copies) except for a first update with pending points."""
    ends = range(batch, n + 1, batch)
    batches: list[slice | Array] = [slice(end - batch, end) for end in ends]
    if pending:
        batches[0] = np.r_[n - pending : n, 0:batch]
    return batches, n - ends[-1]


def update(params: Array, grads: Array, n_weights: int, dead: Array, lr: float, regularization: str,
           rate: float) -> None:
    """TF Playground's ``updateWeights``, given the mean of the batch's derivatives in ``grads``
    (weights first, then biases, as in ``Network.params``). ``dead`` marks the weights that L1 has
    set to 0 for good; weights that L1 takes across 0 now join them."""
    params[n_weights:] -= lr * grads[n_weights:]
    weights, live = params[:n_weights], ~dead
    moved = weights - lr * grads[:n_weights]
    if regularization != "none" and rate > 0:
        slope = np.sign(weights) if regularization == "l1" else weights
        penalised = moved - (lr * rate) * slope
        if regularization == "l1":
            crossed = (moved * penalised < 0) & live
            penalised[crossed] = 0.0
            dead |= crossed
        moved = penalised
    if dead.any():
        np.copyto(weights, moved, where=live)
    else:
        weights[...] = moved
