"""The training step compiled with Numba: ``Network.forward`` + ``output_gradient`` +
``Network.backward`` as plain loops over the rows of a batch, and a whole SGD epoch in one call.

Why it exists: a playground network is tiny (25 parameters by default), so a NumPy training step
is ~30 calls on 10×4 arrays and costs their per-call overhead, not arithmetic; one epoch is dozens
of such steps. Here the same formulas run as machine code, and a whole epoch of mini-batches is
one call. What a student reads to learn backpropagation is still ``engine/network.py``: the tests
(``tests/engine/test_gradients.py``) demand that these loops give the gradient of
``forward``/``backward`` to 1e-12, for every activation, output and loss.

Each loop writes the formula of its NumPy counterpart in the same order of operations; only sums
may round differently (a loop here, BLAS there), ``tanh`` is computed from ``exp``/``expm1`` and
``exp`` comes from the C library rather than NumPy's vectorised versions: differences of a unit or
two in the last place.

Layout: ``params`` is the network's flat vector (all weights, then all biases; ``W_l[i, j]`` at
``w_at + i·n_out + j``). Scratch arrays hold every layer's nodes side by side in columns: ``a``
has the inputs first, ``z`` and ``d`` (dLoss/dz) only the layers after them.
"""

from __future__ import annotations

import numba
import numpy as np

from engine.activations import ELU_ALPHA, GELU_C, LEAKY_SLOPE

Array = np.ndarray

# One code per activation of engine.activations.ACTIVATIONS, in the registry's order.
ACTIVATION_CODES = {name: code for code, name in enumerate(
    ("linear", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "gelu", "swish"))}
LINEAR, STEP, SIGMOID, TANH, RELU, LEAKY_RELU, ELU, SOFTPLUS, GELU, SWISH = range(10)
OUTPUT_CODES = {"sigmoid": 0, "softmax": 1, "linear": 2, "tanh": 3}
OUT_SIGMOID, OUT_SOFTMAX, OUT_LINEAR, OUT_TANH = range(4)
LOSS_CODES = {"mse": 0, "cross_entropy": 1, "half_square": 2}
MSE, CROSS_ENTROPY, HALF_SQUARE = range(3)
PENALTY_CODES = {"none": 0, "l1": 1, "l2": 2}
NO_PENALTY, L1, L2 = range(3)



def _compile(function):
    """Compile with Numba, keeping the machine code beside this file (or in NUMBA_CACHE_DIR) so
    that it is compiled once per installation (a few seconds), not in every process; where no
    such folder is writable, each process compiles for itself."""
    try:
        return numba.njit(cache=True)(function)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(function)


@_compile
def _tanh(z: float) -> float:
    """tanh(z) = (1 − e^(−2|z|)) / (1 + e^(−2|z|)) with the sign of z: within a few units in the
    last place of NumPy's tanh, and twice as fast as the C library's tanh, which matters because
    the default network's training is mostly tanh. Below |z| = 0.5, where 1 − e^(−2|z|) would lose
    digits, it is computed from expm1."""
    if abs(z) < 0.5:
        e = np.expm1(-2.0 * abs(z))
        t = -e / (e + 2.0)
    else:
        e = np.exp(-2.0 * abs(z))
        t = (1.0 - e) / (1.0 + e)
    return t if z >= 0.0 else -t


@_compile
def _sigmoid(z: float) -> float:
    return (_tanh(z * 0.5) + 1.0) * 0.5  # engine.activations.sigmoid_into


@_compile
def _activate(code: int, z: float) -> float:
    """f(z) of engine.activations.ACTIVATIONS[code]."""
    if code == TANH:
        return _tanh(z)
    if code == SIGMOID:
        return _sigmoid(z)
    if code == RELU:
        return 0.0 if z < 0.0 else z
    if code == LINEAR:
        return z
    if code == STEP:
        return 1.0 if z >= 0.0 else 0.0
    if code == LEAKY_RELU:
        return z if z > 0.0 else LEAKY_SLOPE * z
    if code == ELU:
        return z if z > 0.0 else ELU_ALPHA * np.expm1(min(z, 0.0))
    if code == SOFTPLUS:
        return np.logaddexp(0.0, z)
    if code == GELU:
        return 0.5 * z * (1.0 + np.tanh(GELU_C * (z + 0.044715 * z**3.0)))
    return z * _sigmoid(z)  # swish


@_compile
def _slope(code: int, z: float, a: float) -> float:
    """f'(z) of engine.activations.ACTIVATIONS[code], given z and a = f(z)."""
    if code == TANH:
        return 1.0 - a * a
    if code == SIGMOID:
        return (1.0 - a) * a
    if code == RELU:
        return 1.0 if z > 0.0 else 0.0
    if code == LINEAR:
        return 1.0
    if code == STEP:
        return 0.0
    if code == LEAKY_RELU:
        return 1.0 if z > 0.0 else LEAKY_SLOPE
    if code == ELU:
        return 1.0 if z > 0.0 else a + ELU_ALPHA
    if code == SOFTPLUS:
        return _sigmoid(z)
    if code == GELU:
        t = np.tanh(GELU_C * (z + 0.044715 * z**3.0))
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * GELU_C * (1.0 + 3 * 0.044715 * z * z)
    s = _sigmoid(z)  # swish
    return s + a * (1.0 - s)


@_compile
def _n_weights(sizes):
    total = 0
    for layer in range(len(sizes) - 1):
        total += sizes[layer] * sizes[layer + 1]
    return total


@_compile
def _product(src, src_col, n_src, params, w_at, src_stride, dst_stride, dst, dst_col, n_dst, m):
    """dst[r, dst_col + o] = Σ_k src[r, src_col + k] · params[w_at + k·src_stride + o·dst_stride]
    for the first m rows, each sum in the order of k: a @ W (strides n_out, 1) or d @ Wᵀ (1, n_out).
    Four sums at a time, for the processor's sake; each is still one sum in order."""
    for r in range(m):
        o = 0
        while o + 4 <= n_dst:
            t0 = t1 = t2 = t3 = 0.0
            for k in range(n_src):
                s = src[r, src_col + k]
                w = w_at + k * src_stride + o * dst_stride
                t0 += s * params[w]
                t1 += s * params[w + dst_stride]
                t2 += s * params[w + 2 * dst_stride]
                t3 += s * params[w + 3 * dst_stride]
            dst[r, dst_col + o] = t0
            dst[r, dst_col + o + 1] = t1
            dst[r, dst_col + o + 2] = t2
            dst[r, dst_col + o + 3] = t3
            o += 4
        while o < n_dst:
            t = 0.0
            for k in range(n_src):
                t += src[r, src_col + k] * params[w_at + k * src_stride + o * dst_stride]
            dst[r, dst_col + o] = t
            o += 1


@_compile
def _forward(params, sizes, codes, output, x, a, z):
    """Network.forward: every layer's z and activation for the rows of x."""
    m, n_layers, n_inputs = x.shape[0], len(sizes) - 1, sizes[0]
    for r in range(m):
        for i in range(n_inputs):
            a[r, i] = x[r, i]
    w_at, b_at = 0, _n_weights(sizes)
    in_col, col = 0, 0  # this layer's inputs in a; its nodes in z (in a: + n_inputs)
    for layer in range(n_layers):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        _product(a, in_col, n_in, params, w_at, n_out, 1, z, col, n_out, m)  # z = a @ W
        for r in range(m):
            for j in range(n_out):
                z[r, col + j] += params[b_at + j]  # + b
        if layer < n_layers - 1:
            code = codes[layer]
            if code == TANH:  # the default, without the choice per number
                for r in range(m):
                    for j in range(n_out):
                        a[r, n_inputs + col + j] = _tanh(z[r, col + j])
            else:
                for r in range(m):
                    for j in range(n_out):
                        a[r, n_inputs + col + j] = _activate(code, z[r, col + j])
        else:
            for r in range(m):
                _output_activation(output, z, col, a, n_inputs + col, n_out, r)
        w_at += n_in * n_out
        b_at += n_out
        in_col = n_inputs + col
        col += n_out


@_compile
def _output_activation(output, z, col, a, a_col, k, r):
    """engine.losses.output_activation for row r: sigmoid, tanh, softmax
    (engine.activations.softmax) or identity."""
    if output == OUT_SIGMOID:
        for j in range(k):
            a[r, a_col + j] = _sigmoid(z[r, col + j])
    elif output == OUT_TANH:
        for j in range(k):
            a[r, a_col + j] = _tanh(z[r, col + j])
    elif output == OUT_SOFTMAX:
        shift = z[r, col]
        for j in range(1, k):
            shift = max(shift, z[r, col + j])
        total = 0.0
        for j in range(k):
            a[r, a_col + j] = np.exp(z[r, col + j] - shift)
            total += a[r, a_col + j]
        for j in range(k):
            a[r, a_col + j] = a[r, a_col + j] / total
    else:
        for j in range(k):
            a[r, a_col + j] = z[r, col + j]


@_compile
def _output_gradient(output, loss, z, a, y, d):
    """engine.losses.output_gradient: dLoss/dz of the output layer into d."""
    m, k = y.shape
    if loss == CROSS_ENTROPY:
        for r in range(m):
            for j in range(k):
                d[r, j] = (a[r, j] - y[r, j]) / m
        return
    scale = (1.0 if loss == HALF_SQUARE else 2.0) / (m * k)
    for r in range(m):
        for j in range(k):
            d[r, j] = (a[r, j] - y[r, j]) * scale
            if output == OUT_SIGMOID:
                d[r, j] = d[r, j] * a[r, j] * (1.0 - a[r, j])
            elif output == OUT_TANH:
                d[r, j] = d[r, j] * (1.0 - a[r, j] * a[r, j])
        if output == OUT_SOFTMAX:  # a ⊙ (g − Σ g·a)
            total = 0.0
            for j in range(k):
                total += d[r, j] * a[r, j]
            for j in range(k):
                d[r, j] = (d[r, j] - total) * a[r, j]


@_compile
def _gradient(params, grads, sizes, codes, output, loss, x, y, a, z, d):
    """forward, output gradient and backward for the rows of x: the gradient into ``grads``."""
    m, n_layers, n_inputs = x.shape[0], len(sizes) - 1, sizes[0]
    _forward(params, sizes, codes, output, x, a, z)
    n_nodes = z.shape[1]
    first = n_nodes - sizes[-1]  # column of the output layer in z and d
    _output_gradient(output, loss, z[:m, first:], a[:m, n_inputs + first :], y, d[:m, first:])
    w_at = _n_weights(sizes)  # walking the layers backwards, from the ends
    b_at, col = len(params), n_nodes
    for layer in range(n_layers - 1, -1, -1):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        w_at -= n_in * n_out
        b_at -= n_out
        col -= n_out  # this layer's nodes in z and d
        below = col - n_in  # its inputs in z and d, when they are a hidden layer
        in_col = 0 if layer == 0 else n_inputs + below  # its inputs in a
        for i in range(n_in):  # gW = aᵀ @ d, each sum in the order of the rows, four at a time
            w_row = w_at + i * n_out
            j = 0
            while j + 4 <= n_out:
                t0 = t1 = t2 = t3 = 0.0
                for r in range(m):
                    s = a[r, in_col + i]
                    t0 += s * d[r, col + j]
                    t1 += s * d[r, col + j + 1]
                    t2 += s * d[r, col + j + 2]
                    t3 += s * d[r, col + j + 3]
                grads[w_row + j] = t0
                grads[w_row + j + 1] = t1
                grads[w_row + j + 2] = t2
                grads[w_row + j + 3] = t3
                j += 4
            while j < n_out:
                total = 0.0
                for r in range(m):
                    total += a[r, in_col + i] * d[r, col + j]
                grads[w_row + j] = total
                j += 1
        for j in range(n_out):  # gb = the column sums of d
            total = 0.0
            for r in range(m):
                total += d[r, col + j]
            grads[b_at + j] = total
        if layer:  # d_below = (d @ Wᵀ) ⊙ f'(z_below)
            _product(d, col, n_out, params, w_at, 1, n_out, d, below, n_in, m)
            code = codes[layer - 1]
            if code == TANH:  # the default, without the choice per number
                for r in range(m):
                    for i in range(n_in):
                        d[r, below + i] *= 1.0 - a[r, in_col + i] * a[r, in_col + i]
            else:
                for r in range(m):
                    for i in range(n_in):
                        d[r, below + i] *= _slope(code, z[r, below + i], a[r, in_col + i])


@_compile
def _scratch(sizes, rows):
    nodes = 0
    for n in sizes[1:]:
        nodes += n
    return np.empty((rows, sizes[0] + nodes)), np.empty((rows, nodes)), np.empty((rows, nodes))


@_compile
def batch_gradient(params, grads, sizes, codes, output, loss, x, y):
    """dLoss/dparams of one batch into ``grads`` (no penalty)."""
    a, z, d = _scratch(sizes, x.shape[0])
    _gradient(params, grads, sizes, codes, output, loss, x, y, a, z, d)


@_compile
def sgd_epoch(params, grads, sizes, codes, output, loss, penalty, rate, xs, ys, batch, lr):
    """One epoch of SGD over the rows of xs in order, ``batch`` rows a step: for each batch the
    gradient, the L1/L2 penalty's gradient (engine.losses.add_penalty_gradient) and
    w -= lr·g (engine.optimizers' sgd). Returns the number of steps; ``grads`` keeps the last."""
    n = xs.shape[0]
    n_weights = _n_weights(sizes)
    a, z, d = _scratch(sizes, min(batch, n))
    steps = 0
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        _gradient(params, grads, sizes, codes, output, loss, xs[start:stop], ys[start:stop], a, z, d)
        if penalty == L1:
            for i in range(n_weights):
                grads[i] += rate * np.sign(params[i])
        elif penalty == L2:
            for i in range(n_weights):
                grads[i] += rate * params[i]
        for i in range(len(params)):
            params[i] -= grads[i] * lr
        steps += 1
    return steps


@_compile
def _batch_loss(params, sizes, codes, output, loss, x, y, a, z):
    """engine.losses.loss_value of the network's output for the rows of x (no penalty)."""
    m, k = y.shape
    _forward(params, sizes, codes, output, x, a, z)
    z_col, a_col = z.shape[1] - k, a.shape[1] - k  # the output layer's columns
    total = 0.0
    for r in range(m):
        if loss == MSE or loss == HALF_SQUARE:  # (y − ŷ)², or TF Playground's ½(o − t)²
            half = 0.5 if loss == HALF_SQUARE else 1.0
            for j in range(k):
                total += half * (a[r, a_col + j] - y[r, j]) ** 2
        elif output == OUT_SIGMOID:  # log(1 + e^z) − y·z, written to never overflow
            for j in range(k):
                v = z[r, z_col + j]
                total += max(v, 0.0) - v * y[r, j] + np.log1p(np.exp(-abs(v)))
        else:  # softmax: log Σ e^(z − max) − Σ (z − max)·y
            shift = z[r, z_col]
            for j in range(1, k):
                shift = max(shift, z[r, z_col + j])
            exps, dot = 0.0, 0.0
            for j in range(k):
                exps += np.exp(z[r, z_col + j] - shift)
                dot += (z[r, z_col + j] - shift) * y[r, j]
            total += np.log(exps) - dot
    return total / (m * k) if loss != CROSS_ENTROPY or output == OUT_SIGMOID else total / m


@_compile
def _penalty(penalty, rate, params, n_weights):
    """engine.losses.penalty of the weights (params[:n_weights])."""
    total = 0.0
    if penalty == L1:
        for i in range(n_weights):
            total += abs(params[i])
        return rate * total
    if penalty == L2:
        for i in range(n_weights):
            total += params[i] * params[i]
        return 0.5 * rate * total
    return 0.0


@_compile
def random_search_epoch(params, sizes, codes, output, loss, penalty, rate, xs, ys, batch, lr, noise):
    """One epoch of random search (engine.nongradient): for each batch of ``batch`` rows, propose
    params + lr·noise[i] and keep it only if the batch's loss (with the penalty) falls. Returns
    the number of proposals."""
    n, n_weights = xs.shape[0], _n_weights(sizes)
    a, z, _ = _scratch(sizes, min(batch, n))
    previous = np.empty_like(params)
    proposals = 0
    for start in range(0, n, batch):
        x, y = xs[start : start + batch], ys[start : start + batch]
        current = _batch_loss(params, sizes, codes, output, loss, x, y, a, z) + _penalty(penalty, rate, params, n_weights)
        for i in range(len(params)):
            previous[i] = params[i]
            params[i] += lr * noise[proposals, i]
        if _batch_loss(params, sizes, codes, output, loss, x, y, a, z) + _penalty(penalty, rate, params, n_weights) >= current:
            for i in range(len(params)):
                params[i] = previous[i]
        proposals += 1
    return proposals
