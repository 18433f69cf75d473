"""How fast the draw-a-digit page answers one drawing (issue 23): p50 and p95 per answer.

The server's own work for each endpoint, without HTTP (decode the JSON body, preprocess the
280x280 canvas, run the model, build the answer, encode it as JSON), on the shipped model
(``tinycnn.serve.default_model``) and one MNIST test digit scaled 10x as the page draws it:

- ``predict``: ``POST /api/predict``, every layer's column through the softmax;
- ``saliency``: the saliency map of the predicted class (``tinycnn.teach.looks.saliency``) on the
  preprocessed drawing, and ``predict+saliency``, the two one after the other;
- ``looks``: ``POST /api/looks``, saliency plus the occlusion map (144 covered copies, one batch);
- ``attack``: ``POST /api/fool`` with 10 steps at ``--epsilon`` (small by default, so that all
  10 steps run: the answer reports the steps taken).

Each is run ``--warmup`` times, then timed ``--repeats`` times; p50 and p95 are printed in ms,
of the wall-clock time and of the process's CPU time (all its threads): on a shared machine
the wall clock includes waiting for a core, the CPU time does not.
Threads: ``--threads`` sets the BLAS and Numba pools (2 = the two cores of the test machine),
before NumPy is imported. Usage::

    python tests/benchmarks/bench_page.py --threads 2 --repeats 100
"""

from __future__ import annotations

import argparse
import json
import os
import time


def percentile_ms(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return 1000 * ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--epsilon", type=float, default=0.02)
    args = parser.parse_args()
    for pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[pool] = str(args.threads)

    import numpy as np

    from tinycnn.data import load_mnist
    from tinycnn.serve import api, looks
    from tinycnn.serve.default_model import load_default_model
    from tinycnn.teach import looks as teach_looks

    model = load_default_model()
    (_, _), (x_test, y_test) = load_mnist(subset=True)
    digit = x_test[0, :, :, 0]
    canvas = np.kron(digit, np.ones((10, 10), dtype=np.uint8))  # 280x280, as the page draws
    request = {"width": 280, "height": 280, "pixels": canvas.ravel().tolist()}
    body = json.dumps(request).encode()
    k = int(api.predict(model, api.parse_request(body))["prediction"])

    def predict() -> str:
        return json.dumps(api.predict(model, api.parse_request(body)))

    def saliency() -> str:
        image = api.network_input(api.parse_request(body))
        return json.dumps(teach_looks.saliency(model, image, k).round(5).tolist())

    def both() -> None:
        predict()
        saliency()

    looks_body = json.dumps({**request, "class": k}).encode()
    fool_body = json.dumps(
        {**request, "target": (k + 1) % 10, "epsilon": args.epsilon, "steps": 10}
    ).encode()
    attack = looks.answer_fool(model, fool_body)
    answers = {
        "predict": predict,
        "saliency": saliency,
        "predict+saliency": both,
        "looks (saliency + occlusion)": lambda: json.dumps(looks.answer_looks(model, looks_body)),
        "attack, 10 steps": lambda: json.dumps(looks.answer_fool(model, fool_body)),
    }
    print(f"shipped model, test digit 0 (label {int(y_test[0])}, predicted {k}), 280x280 canvas")
    print(f"threads {args.threads}, {args.repeats} timed runs after {args.warmup} warm-up runs")
    print(f"attack: epsilon {args.epsilon}, {attack['steps']} steps taken, "
          f"prediction {attack['prediction']}")  # fmt: skip
    print(f"{'answer':<30} {'wall p50':>9} {'p95':>7} {'CPU p50':>9} {'p95':>7}  (ms)")
    for name, answer in answers.items():
        for _ in range(args.warmup):
            answer()
        wall, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            answer()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        print(
            f"{name:<30} {percentile_ms(wall, 50):9.1f} {percentile_ms(wall, 95):7.1f} "
            f"{percentile_ms(cpu, 50):9.1f} {percentile_ms(cpu, 95):7.1f}"
        )


if __name__ == "__main__":
    main()
