"""The multilayer perceptron: forward pass (keeping every layer's values) and backpropagation.

All weights and biases live in one flat vector ``params``; the per-layer matrices are views into
it, and the gradients likewise live in one flat vector ``grads``. An optimizer therefore updates
the whole network with a few vectorised operations, which is what makes a tiny network fast in
NumPy. Weights come first and biases after them, so ``params[:n_weights]`` is every weight: the
part that L1/L2 penalties and decoupled weight decay act on.

Layer ``l`` computes ``z_l = a_l @ W_l + b_l`` and ``a_{l+1} = f_l(z_l)``, with ``a_0`` the input
features. ``W_l`` has shape (inputs, outputs), so ``W_l[i, j]`` is the edge from node i to node j.

``forward`` and ``backward`` are backpropagation as a student reads it. Training runs the same
arithmetic compiled (``engine/compiled.py``, through ``_batch_gradient`` and ``_sgd_epoch``), and
the tests demand that the two agree to 1e-12.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from engine import compiled
from engine.activations import Activation, get_activation
from engine.compiled import ACTIVATION_CODES, LOSS_CODES, OUTPUT_CODES, PENALTY_CODES
from engine.losses import output_activation, output_activation_into

Array = np.ndarray
INITIALIZATIONS = ("xavier", "he", "uniform", "playground", "zeros")
OUTPUTS = ("sigmoid", "softmax", "linear", "tanh")


@dataclass
class ForwardPass:
    """Every layer's pre-activations ``zs`` and activations ``activations`` (input first)."""

    zs: list[Array]
    activations: list[Array]

    @property
    def output(self) -> Array:
        return self.activations[-1]


class Network:
    """A fully connected network with one activation per hidden layer and a fixed output rule."""

    def __init__(self, sizes: Sequence[int], activations: Sequence[str], output: str, params: Array):
        sizes = tuple(int(n) for n in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"layer sizes must be at least 1 with an input and an output, got {sizes}")
        if len(activations) != len(sizes) - 2:
            raise ValueError(
                f"need one activation per hidden layer ({len(sizes) - 2}), got {len(activations)}"
            )
        if output not in OUTPUTS:
            raise ValueError(f"unknown output {output!r}; allowed: {', '.join(OUTPUTS)}")
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 output nodes")
        self.sizes = sizes
        self.hidden_activations: tuple[Activation, ...] = tuple(get_activation(a) for a in activations)
        self.output = output
        self._shapes = shapes = list(zip(sizes[:-1], sizes[1:]))
        self.n_weights = sum(i * o for i, o in shapes)
        n_params = self.n_weights + sum(sizes[1:])
        params = np.asarray(params, dtype=np.float64)
        if params.shape != (n_params,):
            raise ValueError(f"this network has {n_params} parameters, got an array of shape {params.shape}")
        self.params = params.copy()
        self.grads = np.zeros_like(self.params)
        self.weights, self.biases = _layer_views(self.params, shapes, self.n_weights)
        self.grad_weights, self.grad_biases = _layer_views(self.grads, shapes, self.n_weights)
        # where each layer's weights, and its biases, start in the flat vectors
        self._weight_starts = np.cumsum([0] + [i * o for i, o in shapes[:-1]])
        self._bias_starts = np.cumsum([0] + list(sizes[1:-1]))
        self._sizes = np.array(sizes, dtype=np.int64)  # the layout engine.compiled reads
        self._codes = np.array([ACTIVATION_CODES[a.name] for a in self.hidden_activations], dtype=np.int64)

    @classmethod
    def create(
        cls,
        sizes: Sequence[int],
        activations: Sequence[str],
        output: str,
        init: str,
        rng: np.random.Generator,
    ) -> "Network":
        """A new network whose weights are drawn with ``init`` from ``rng``."""
        return cls(sizes, activations, output, initial_params(sizes, init, rng))

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def forward(self, x: Array) -> ForwardPass:
        zs, activations = [], [x]
        a = x
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w
            z += b
            a = (
                self.hidden_activations[layer].function(z)
                if layer < len(self.hidden_activations)
                else output_activation(self.output, z)
            )
            zs.append(z)
            activations.append(a)
        return ForwardPass(zs, activations)

    def predict(self, x: Array) -> Array:
        return self.forward(x).output

    def backward(self, forward: ForwardPass, output_grad: Array) -> None:
        """Backpropagate dLoss/dz of the output layer, writing every gradient into ``grads``."""
        dz = output_grad
        for layer in range(self.n_layers - 1, -1, -1):
            np.matmul(forward.activations[layer].T, dz, out=self.grad_weights[layer])
            np.sum(dz, axis=0, out=self.grad_biases[layer])
            if layer:
                activation = self.hidden_activations[layer - 1]
                dz = (dz @ self.weights[layer].T) * activation.derivative(
                    forward.zs[layer - 1], forward.activations[layer]
                )

    def _batch_gradient(self, x: Array, y: Array, loss: str) -> None:
        """``forward`` + ``output_gradient`` + ``backward`` for one training batch, writing the
        gradient into ``grads``: the compiled loops of ``engine.compiled``, which the tests tie to
        those methods (to 1e-12)."""
        compiled.batch_gradient(self.params, self.grads, self._sizes, self._codes,
                                OUTPUT_CODES[self.output], LOSS_CODES[loss], x, y)

    def _sgd_epoch(self, xs: Array, ys: Array, batch: int, loss: str, penalty: str, rate: float,
                   lr: float) -> int:
        """One epoch of plain SGD (``engine.optimizers``' "sgd" rule, with the L1/L2 penalty's
        gradient) over the rows of ``xs`` in order, ``batch`` rows a step, in one compiled call.
        Returns the number of steps; ``grads`` keeps the last step's gradient."""
        return compiled.sgd_epoch(self.params, self.grads, self._sizes, self._codes, OUTPUT_CODES[self.output],
                                  LOSS_CODES[loss], PENALTY_CODES[penalty], rate, xs, ys, batch, lr)

    def _random_search_epoch(self, xs: Array, ys: Array, batch: int, loss: str, penalty: str, rate: float,
                             lr: float, noise: Array) -> int:
        """One epoch of random search (``engine.nongradient``) over the rows of ``xs`` in order, the
        proposals' steps drawn in ``noise`` (one row each), in one compiled call."""
        return compiled.random_search_epoch(self.params, self._sizes, self._codes, OUTPUT_CODES[self.output],
                                            LOSS_CODES[loss], PENALTY_CODES[penalty], rate, xs, ys, batch, lr, noise)

    def _grid_maps(self, inputs: Array) -> list[Array]:
        """Every layer's node values for the columns of ``inputs`` (features × points), inputs
        first: a forward pass laid out for drawing, each map a contiguous (nodes × points) row
        block, computed in the dtype of ``inputs``.

        The trainer draws in float32: it halves the memory traffic of this, the biggest forward
        pass, and is far more precise than a heatmap colour. Weights close to divergence can
        overflow float32 where float64 does not; the maps are then recomputed in float64. Only
        the maps that could show it are checked, the output's and those of unbounded
        activations: an overflow gives an infinity, which bounded activations (tanh, ...) turn
        into their limit as float64 would, or NaN, which later layers pass on to the output."""
        maps = self._grid_forward(inputs)
        if inputs.dtype != np.float64:
            unbounded = [m for m, f in zip(maps[1:], self.hidden_activations) if not f.bounded]
            if not all(np.isfinite(m).all() for m in [*unbounded, maps[-1]]):
                maps = self._grid_forward(inputs.astype(np.float64))
        return maps

    def _grid_forward(self, inputs: Array) -> list[Array]:
        dtype = inputs.dtype
        block = np.empty((sum(self.sizes[1:]), inputs.shape[1]), dtype=dtype)
        weights, biases = self.layers_of(self.params.astype(dtype))
        maps, a, row = [inputs], inputs, 0
        for layer, (w, b) in enumerate(zip(weights, biases)):
            z = block[row : row + w.shape[1]]
            row += w.shape[1]
            np.dot(w.T, a, out=z)
            z += b[:, None]
            if layer < len(self.hidden_activations):
                self.hidden_activations[layer].apply(z, z)
            elif self.output == "softmax":
                z[...] = output_activation(self.output, z.T).T
            else:
                output_activation_into(self.output, z, z)
            maps.append(z)
            a = z
        return maps

    def gradient_norms(self) -> list[float]:
        """The Euclidean norm of each layer's gradient (weights and bias together)."""
        squares = self.grads * self.grads
        per_layer = np.add.reduceat(squares[: self.n_weights], self._weight_starts)
        per_layer += np.add.reduceat(squares[self.n_weights :], self._bias_starts)
        return np.sqrt(per_layer).tolist()

    def copy_layers(self) -> tuple[list[Array], list[Array]]:
        """Copies of every weight matrix and bias vector (views into one copy of ``params``)."""
        return self.layers_of(self.params.copy())

    def layers_of(self, flat: Array) -> tuple[list[Array], list[Array]]:
        """A vector laid out as ``params`` (every layer's weights, then every layer's biases), as
        views per layer: weight matrices (n_in, n_out) and bias vectors."""
        return _layer_views(flat, self._shapes, self.n_weights)

    def blocked_by_step(self) -> bool:
        """True when a step activation stops every gradient from reaching the first layer."""
        return any(not a.learns_by_gradient for a in self.hidden_activations)


def _layer_views(flat: Array, shapes: list[tuple[int, int]], n_weights: int) -> tuple[list[Array], list[Array]]:
    weights, biases = [], []
    w_at, b_at = 0, n_weights
    for n_in, n_out in shapes:
        weights.append(flat[w_at : w_at + n_in * n_out].reshape(n_in, n_out))
        biases.append(flat[b_at : b_at + n_out])
        w_at += n_in * n_out
        b_at += n_out
    return weights, biases


def initial_params(sizes: Sequence[int], init: str, rng: np.random.Generator) -> Array:
    """Flat initial weights then biases for ``init``:

    - xavier: Glorot uniform U(−√(6/(in+out)), +√(6/(in+out))), biases 0;
    - he: normal with standard deviation √(2/in), biases 0 (for ReLU-like layers);
    - uniform: U[0, 1) for weights and biases, the primer's ``np.random.rand``;
    - playground: TensorFlow Playground's U(−0.5, 0.5) with biases 0.1;
    - zeros: everything 0 (a lesson in why symmetry must be broken).
    """
    if init not in INITIALIZATIONS:
        raise ValueError(f"unknown initialization {init!r}; allowed: {', '.join(INITIALIZATIONS)}")
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        shape = (n_in * n_out,)
        if init == "xavier":
            limit = np.sqrt(6.0 / (n_in + n_out))
            weights.append(rng.uniform(-limit, limit, shape))
            biases.append(np.zeros(n_out))
        elif init == "he":
            weights.append(rng.normal(0.0, np.sqrt(2.0 / n_in), shape))
            biases.append(np.zeros(n_out))
        elif init == "uniform":
            weights.append(rng.random(shape))
            biases.append(rng.random(n_out))
        elif init == "playground":
            weights.append(rng.uniform(-0.5, 0.5, shape))
            biases.append(np.full(n_out, 0.1))
        else:
            weights.append(np.zeros(shape))
            biases.append(np.zeros(n_out))
    return np.concatenate(weights + biases)
