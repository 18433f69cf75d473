"""``assert_gradients``: a gradient check that fails like a test, with the per-tensor report.

The kink hook
-------------
ReLU, max-pooling and a LeakyReLU of your own are not differentiable everywhere: at ``x == 0``
(or where two window entries tie) the two one-sided slopes differ, so a central difference that
straddles the point disagrees with ``backward`` although nothing is wrong. A layer tells the
check where it decides between branches by defining one method::

    def decision_state(self) -> np.ndarray:
        \"\"\"Which branch each element took in the last forward pass (e.g. ``x > 0``).\"\"\"
        return self._cache_mask

Any array works (a boolean mask, argmax switches): the check calls it after every forward pass,
and an element whose perturbations ``x ± eps``, ``x ± 2eps`` change the decision state of any
layer is counted as a *kink* and left out of the error, instead of being reported as a bug.
Layers inside a model and activation shortcuts (``layer.activation``) are asked too. Without the
method a correct LeakyReLU fails at an input of exactly 0 (the docs page "Check your own layer"
shows it).
"""

from __future__ import annotations

from typing import Any

from tinycnn.layers.base import Array
from tinycnn.testing.gradcheck import GradcheckResult, gradcheck

__all__ = ["assert_gradients"]


def assert_gradients(
    layer: Any, x: Array, *, tolerance: float = 1e-6, **options: Any
) -> GradcheckResult:
    """Check ``layer``'s ``backward`` against central differences; raise if it disagrees.

    Parameters
    ----------
    layer : Layer, Sequential or loss
        Built or not (an unbuilt layer is built for ``x.shape[1:]``); checked on a float64 copy.
    x : ndarray, shape (N, ...)
        The input (for a loss: the logits).
    tolerance : float
        Largest relative error that passes (kinks excluded; see the module docstring).
    **options
        Passed to :func:`tinycnn.testing.gradcheck.gradcheck`: ``y``, ``loss``, ``dout``, ``eps``,
        ``seed``, ``kink_tol``, ``training``.

    Returns
    -------
    GradcheckResult
        When every tensor passes.

    Raises
    ------
    AssertionError
        Carrying the report: one line per tensor (``x`` and each parameter) with its largest
        relative error, the number of elements checked and of kinks, and the worst index. Also
        when a tensor had no element to check (all at kinks): a check of nothing proves nothing.
    """
    result = gradcheck(layer, x, tolerance=tolerance, **options)
    if not result.ok:
        raise AssertionError(f"gradients disagree with central differences\n{result}")
    unchecked = [t.name for t in result.tensors if t.n_checked == 0]
    if unchecked:  # a check of nothing passes nothing
        raise AssertionError(
            f"nothing checked in {', '.join(unchecked)}: every element sits at a kink; "
            f"move the input away from the kinks\n{result}"
        )
    return result
