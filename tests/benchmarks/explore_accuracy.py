"""Exploration, not the protocol: the accuracy protocol with another start or scaled inputs.

Runs the protocol's training (10 epochs, Adam 1e-3, batch 64, 10% validation, seeds 0-4) after
re-initialising every kernel (``--init he`` or ``torch``: U(+-1/sqrt(fan_in)) for kernels and
biases) from ``np.random.default_rng(1000 + seed)``, and/or with inputs standardised to mean 0
and standard deviation 1 (``--standardize``). Used in session 2 (docs/benchmarks.md); e.g.::

    OPENBLAS_NUM_THREADS=1 python tests/benchmarks/explore_accuracy.py --model dense --init he
"""

import argparse
import statistics
import time

import numpy as np

from tinycnn.data import load_mnist, scale_images
from tinycnn.optim import Adam
from tinycnn.training.augment import Augmenter
from tinycnn.zoo import dense_baseline, seed_cnn

p = argparse.ArgumentParser()
p.add_argument("--model", default="cnn")
p.add_argument("--init", default="glorot")
p.add_argument("--standardize", action="store_true")
p.add_argument("--seeds", default="0,1,2,3,4")
p.add_argument("--aug", default=None, help="rotation,shift,zoom")
p.add_argument("--epochs", type=int, default=10)
a = p.parse_args()
(xtr, ytr), (xte, yte) = load_mnist(download=False)
xtr, xte = scale_images(xtr), scale_images(xte)
if a.standardize:
    m, s = xtr.mean(), xtr.std()
    xtr, xte = ((xtr - m) / s).astype(np.float32), ((xte - m) / s).astype(np.float32)
res = []
print(vars(a), flush=True)
for seed in map(int, a.seeds.split(",")):
    model = (seed_cnn if a.model == "cnn" else dense_baseline)(seed)
    rng = np.random.default_rng(1000 + seed)
    for layer in model.layers:
        w = getattr(layer, "params", {}).get("w")
        if w is None:
            continue
        fan_in = int(np.prod(w.shape[:-1]))
        if a.init == "he":
            lim = np.sqrt(6 / fan_in)
            w[...] = rng.uniform(-lim, lim, w.shape)
        elif a.init == "torch":
            lim = 1 / np.sqrt(fan_in)
            w[...] = rng.uniform(-lim, lim, w.shape)
            layer.params["b"][...] = rng.uniform(-lim, lim, layer.params["b"].shape)
    model.compile(optimizer=Adam(1e-3))
    aug = None
    if a.aug:
        r, sh, z = map(float, a.aug.split(","))
        aug = Augmenter(r, sh, z)
    t = time.time()
    model.fit(
        xtr,
        ytr.astype(np.int64),
        epochs=a.epochs,
        batch_size=64,
        validation_split=0.1,
        seed=seed,
        augment=aug,
        verbose=0,
    )
    _, acc = model.evaluate(xte, yte.astype(np.int64))
    res.append(acc)
    print(f"seed {seed}: {acc:.2%} ({time.time() - t:.0f}s)", flush=True)
print(
    f"median {statistics.median(res):.2%} mean {np.mean(res):.3%} "
    f"min {min(res):.2%} max {max(res):.2%}"
)
