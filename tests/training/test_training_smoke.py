"""Smoke test: the seed CNN learns from 512 real MNIST images with Adam."""

from __future__ import annotations

import numpy as np

from tinycnn.data import load_mnist, scale_images
from tinycnn.losses import SoftmaxCrossEntropy
from tinycnn.optim import Adam
from tinycnn.zoo import seed_cnn


def test_thirty_adam_steps_halve_the_loss_on_512_mnist_images(mnist_dir):
    (x_train, y_train), _ = load_mnist(mnist_dir, download=False)
    x, y = scale_images(x_train[:512]), y_train[:512]  # (512, 28, 28, 1) float32 in [0, 1]
    model = seed_cnn(seed=0)
    loss_fn, optimizer = SoftmaxCrossEntropy(), Adam()
    rng = np.random.default_rng(0)

    def full_loss() -> float:
        return loss_fn.forward(model.forward(x, logits=True), y)

    start = full_loss()
    batches = [rng.permutation(512)[:64] for _ in range(30)]
    for idx in batches:
        logits = model.forward(x[idx], training=True, logits=True)  # (64, 10)
        loss_fn.forward(logits, y[idx])
        model.backward(loss_fn.backward())
        params, grads = zip(*[(p, g) for _, p, g in model.params_and_grads()], strict=True)
        optimizer.update(list(params), list(grads))
    end = full_loss()

    assert 2.0 < start < 2.6  # about log(10) = 2.30 for an untrained 10-class model
    assert end < start / 2, f"loss went from {start:.3f} to {end:.3f}"
    assert all(p.dtype == np.float32 for _, p, _ in model.params_and_grads())
