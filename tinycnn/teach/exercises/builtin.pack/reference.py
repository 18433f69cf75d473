"""The library's answers in the exercises' signatures, built from tinycnn's own layers, kernels,
loss and optimizer (not from the exercise files), for the checks to compare against."""

from __future__ import annotations

import numpy as np

from tinycnn.kernels.geometry import output_hw
from tinycnn.kernels.im2col import col2im, im2col
from tinycnn.kernels.pool import maxpool_backward as pool_backward
from tinycnn.kernels.pool import maxpool_forward as pool_forward
from tinycnn.layers.batchnorm import BatchNormalization
from tinycnn.layers.dropout import Dropout
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.optim.adam import Adam

__all__: list[str] = []  # internal to the exercises


def conv2d_forward(x, w, b, S, padding):
    """``out`` (N, OH, OW, F) of ``x`` (N, H, W, C) with ``w`` (KH, KW, C, F), ``b`` (F,)."""
    KH, KW, C, F = w.shape
    OH, OW = output_hw(x.shape, KH, KW, S, padding)
    cols = im2col(np.asarray(x, dtype=w.dtype), KH, KW, S, padding)  # (N*OH*OW, KH*KW*C)
    return (cols @ w.reshape(-1, F) + b).reshape(x.shape[0], OH, OW, F)


def conv2d_backward(dout, x, w, S, padding):
    """``(dx, dw, db)`` for ``conv2d_forward``."""
    KH, KW, C, F = w.shape
    cols = im2col(np.asarray(x, dtype=w.dtype), KH, KW, S, padding)
    dout2d = dout.reshape(-1, F)  # (N*OH*OW, F)
    dw = (cols.T @ dout2d).reshape(KH, KW, C, F)
    db = dout2d.sum(axis=0)
    dx = col2im(dout2d @ w.reshape(-1, F).T, x.shape, KH, KW, S, padding)
    return dx, dw, db


def maxpool_forward(x, KH, KW, S, padding):
    """``out`` (N, OH, OW, C): window maxima."""
    return pool_forward(np.asarray(x, dtype=np.float64), KH, KW, S, padding)[0]


def maxpool_backward(dout, x, KH, KW, S, padding):
    """``dx`` (N, H, W, C): ``dout`` routed to each window's first maximum."""
    _, argmax = pool_forward(np.asarray(x, dtype=np.float64), KH, KW, S, padding)
    return pool_backward(dout, argmax, x.shape, KH, KW, S, padding)


def dropout_forward(x, rate, training, rng):
    """``(out, mask)`` as the library's Dropout draws it from ``rng``."""
    layer = Dropout(rate)
    layer.rng = rng
    out = layer.forward(x, training)
    return out, layer._cache


def softmax_cross_entropy(logits, y):
    """``(loss, dlogits)``: batch-mean cross-entropy and its gradient."""
    loss = SoftmaxCrossEntropy()
    value = loss.forward(logits, y)
    return value, loss.backward()


def adam_step(p, g, m, v, t, learning_rate, beta_1, beta_2, epsilon):
    """``(p, m, v)`` after step ``t`` of the library's Adam (Keras's form), on copies."""
    if t < 1:  # a t counted from 0 (a known mistake): the library refuses step 0, whose bias
        # corrections divide by 1 - beta**0 = 0; what the formula gives is NaN
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        return np.full_like(p, np.nan), m, v
    optimizer = Adam(learning_rate, beta_1, beta_2, epsilon)
    optimizer.set_state({"iterations": np.array(t - 1), "m_0": m, "v_0": v})
    p = p.copy()
    optimizer.update([p], [g])  # step t
    return p, optimizer.slots["m"][0], optimizer.slots["v"][0]


def _batchnorm(gamma, beta, moving_mean, moving_variance, momentum, epsilon):
    """The library's float64 BatchNormalization holding these weights (copies)."""
    layer = BatchNormalization(momentum, epsilon)
    layer.build((len(gamma),))
    layer.astype(np.float64)
    layer.set_weights([gamma, beta, moving_mean, moving_variance])
    return layer


def batchnorm_forward(x, gamma, beta, moving_mean, moving_variance, training, momentum, epsilon):
    """``(out, moving_mean, moving_variance)`` of the library's BatchNormalization, in float64."""
    layer = _batchnorm(gamma, beta, moving_mean, moving_variance, momentum, epsilon)
    out = layer.forward(np.asarray(x, dtype=np.float64), training)
    return out, layer.state["moving_mean"], layer.state["moving_variance"]


def batchnorm_backward(dout, x, gamma, epsilon):
    """``(dx, dgamma, dbeta)`` of the library's BatchNormalization in training mode."""
    C = len(gamma)
    layer = _batchnorm(gamma, np.zeros(C), np.zeros(C), np.ones(C), 0.99, epsilon)
    layer.forward(np.asarray(x, dtype=np.float64), training=True)
    dx = layer.backward(np.asarray(dout, dtype=np.float64))
    return dx, layer.grads["gamma"], layer.grads["beta"]
