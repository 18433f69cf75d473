"""SGD and Adam: the update rules by hand, Keras's optimizers, state and configuration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import import_keras
from hypothesis import given
from hypothesis import strategies as st

from tinycnn.optim import SGD, Adam, get_optimizer

STEPS = 6


def draw_problem(seed: int, dtype=np.float64):
    """Two parameter tensors and STEPS gradients for each."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=4).astype(dtype)]
    grads = [[rng.normal(size=p.shape).astype(dtype) for p in params] for _ in range(STEPS)]
    return params, grads


def sgd_reference(w, grads, lr, momentum, nesterov):
    """Keras 3 SGD written out element by element, in float64 Python arithmetic."""
    w, v = list(w), [0.0] * len(w)
    for g in grads:
        for k in range(len(w)):
            v[k] = momentum * v[k] - lr * g[k]
            if nesterov:
                w[k] += momentum * v[k] - lr * g[k]
            else:
                w[k] += v[k] if momentum else -lr * g[k]
    return w


def adam_reference(w, grads, lr, b1, b2, eps):
    """The paper's Algorithm 1 (its epsilon from Keras's epsilon hat), in float64 arithmetic."""
    w, m, v = list(w), [0.0] * len(w), [0.0] * len(w)
    for t, g in enumerate(grads, start=1):
        for k in range(len(w)):
            m[k] = b1 * m[k] + (1 - b1) * g[k]
            v[k] = b2 * v[k] + (1 - b2) * g[k] ** 2
            m_hat, v_hat = m[k] / (1 - b1**t), v[k] / (1 - b2**t)
            eps_paper = eps / math.sqrt(1 - b2**t)  # Keras's epsilon in the paper's form
            w[k] -= lr * m_hat / (math.sqrt(v_hat) + eps_paper)
    return w


def run(opt, params, grads):
    params = [p.copy() for p in params]
    for step in grads:
        opt.update(params, step)
    return params


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays]).tolist()


@given(
    st.integers(0, 2**32 - 1),
    st.floats(1e-3, 0.5),
    st.sampled_from([0.0, 0.5, 0.9]),
    st.booleans(),
)
def test_sgd_matches_the_update_rule_written_out(seed, lr, momentum, nesterov):
    params, grads = draw_problem(seed)
    got = run(SGD(lr, momentum, nesterov), params, grads)
    expected = sgd_reference(flat(params), [flat(g) for g in grads], lr, momentum, nesterov)
    np.testing.assert_allclose(flat(got), expected, rtol=1e-12, atol=1e-12)


@given(
    st.integers(0, 2**32 - 1),
    st.floats(1e-4, 0.1),
    st.sampled_from([0.0, 0.5, 0.9]),
    st.sampled_from([0.9, 0.999]),
    st.sampled_from([1e-7, 1e-3, 0.5]),
)
def test_adam_matches_the_paper_with_epsilon_hat(seed, lr, b1, b2, eps):
    params, grads = draw_problem(seed)
    got = run(Adam(lr, b1, b2, eps), params, grads)
    expected = adam_reference(flat(params), [flat(g) for g in grads], lr, b1, b2, eps)
    np.testing.assert_allclose(flat(got), expected, rtol=1e-12, atol=1e-12)


def test_adam_first_step_moves_each_weight_by_about_the_learning_rate():
    # With m = (1-b1) g and v = (1-b2) g², step 1 is lr * g / (|g| + eps / sqrt(1-b2)).
    w = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -4.0, 1e-9])
    Adam(0.01, epsilon=1e-7).update([w], [g])
    expected = np.array([1.0, -2.0, 3.0]) - 0.01 * g / (np.abs(g) + 1e-7 / np.sqrt(0.001))
    np.testing.assert_allclose(w, expected, rtol=1e-12)


@pytest.mark.parametrize("opt", [SGD(0.1), SGD(0.1, 0.9, True), Adam()], ids=repr)
def test_updates_in_place_and_keeps_float32(opt):
    params, grads = draw_problem(0, np.float32)
    originals = list(params)
    before = [p.copy() for p in params]
    opt.update(params, [g.astype(np.float64) for g in grads[0]])
    for p, original, old in zip(params, originals, before, strict=True):
        assert p is original
        assert p.dtype == np.float32
        assert not np.array_equal(p, old)
    assert all(a.dtype == np.float32 for a in opt.get_state().values() if a.ndim)


@pytest.mark.parametrize("make", [lambda: SGD(0.05, 0.9), lambda: Adam(0.01)], ids=["sgd", "adam"])
def test_state_round_trip_through_npz_continues_identically(make, tmp_path):
    params, grads = draw_problem(1, np.float32)
    opt = make()
    params = run(opt, params, grads[:3])
    np.savez(tmp_path / "state.npz", **opt.get_state())
    resumed = make()
    resumed.set_state(dict(np.load(tmp_path / "state.npz")))
    assert resumed.iterations == 3
    np.testing.assert_array_equal(
        flat(run(resumed, params, grads[3:])), flat(run(opt, params, grads[3:]))
    )


def test_state_is_keyed_by_position_and_checked():
    opt = Adam()
    params, grads = draw_problem(2)
    opt.update(params, grads[0])
    assert sorted(opt.get_state()) == ["iterations", "learning_rate", "m_0", "m_1", "v_0", "v_1"]
    assert opt.get_state()["m_1"].shape == (4,)
    with pytest.raises(ValueError, match=r"made for parameter shapes \[\(3, 4\), \(4,\)\]"):
        opt.update(params[::-1], grads[0][::-1])


def test_bad_gradients_raise_value_error():
    params, grads = draw_problem(3)
    with pytest.raises(ValueError, match=r"one gradient per parameter \(2\), got 1"):
        SGD().update(params, grads[0][:1])
    with pytest.raises(ValueError, match=r"gradient 1: expected shape \(4,\), got \(5,\)"):
        SGD().update(params, [grads[0][0], np.zeros(5)])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: SGD(0.0), "learning_rate must be > 0"),
        (lambda: SGD(0.1, momentum=1.0), r"momentum must be in \[0, 1\)"),
        (lambda: Adam(beta_1=1.0), r"beta_1 must be in \[0, 1\)"),
        (lambda: Adam(epsilon=0.0), "epsilon must be > 0"),
    ],
)
def test_bad_hyperparameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("opt", [SGD(0.2, 0.5, True), Adam(3e-4, 0.8, 0.99, 1e-6)], ids=repr)
def test_config_rebuilds_the_optimizer(opt):
    config = opt.get_config()
    assert type(opt)(**config).get_config() == config
    rebuilt = get_optimizer({"class_name": type(opt).__name__, "config": config})
    assert rebuilt.get_config() == config


def test_get_optimizer_by_name():
    assert isinstance(get_optimizer("adam"), Adam)
    assert isinstance(get_optimizer("SGD"), SGD)
    opt = Adam()
    assert get_optimizer(opt) is opt
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        get_optimizer("rmsprop")


# -- Keras parity ---------------------------------------------------------------------------
@pytest.mark.tf
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: SGD(0.1), lambda k: k.optimizers.SGD(0.1)),
        (lambda: SGD(0.1, 0.9), lambda k: k.optimizers.SGD(0.1, 0.9)),
        (lambda: SGD(0.1, 0.9, True), lambda k: k.optimizers.SGD(0.1, 0.9, nesterov=True)),
        (lambda: Adam(), lambda k: k.optimizers.Adam()),
        (lambda: Adam(0.02, 0.8, 0.99, 1e-3), lambda k: k.optimizers.Adam(0.02, 0.8, 0.99, 1e-3)),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "adam-custom"],
)
def test_matches_keras_optimizer_in_float32(ours, theirs):
    keras = import_keras()
    params, grads = draw_problem(4, np.float32)
    variables = [keras.Variable(p.copy()) for p in params]
    keras_opt = theirs(keras)
    for step in grads:
        tensors = [keras.ops.convert_to_tensor(g) for g in step]
        keras_opt.apply_gradients(list(zip(tensors, variables, strict=True)))
    got = run(ours(), params, grads)
    for mine, variable in zip(got, variables, strict=True):
        # Observed bit-identical with keras 3.15 on x86-64; the tolerance allows other libms.
        np.testing.assert_allclose(mine, np.asarray(variable), rtol=1e-6, atol=1e-7)
