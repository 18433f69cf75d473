"""``tinycnn serve``: a draw-a-digit page that shows what the network sees and thinks.

- :mod:`tinycnn.serve.api`: request checking, preprocessing
(``tinycnn.data.pictures.mnist_style``),
  prediction and the compact answer (probabilities, 28x28 input, conv feature maps);
- :mod:`tinycnn.serve.explain`: the multiply-adds behind one feature-map value (``/api/explain``);
- :mod:`tinycnn.serve.server`: the standard-library HTTP server (``make_server``);
- :mod:`tinycnn.serve.default_model`: the small model shipped for use out of the box;
- ``static/index.html`` and ``static/app.js``: the page (canvas, live probabilities, feature
  maps, a clicked value's filter and receptive field), no dependencies.
"""

from tinycnn.serve.default_model import DEFAULT_MODEL_PATH, load_default_model
from tinycnn.serve.server import DigitServer, make_server

__all__ = ["DEFAULT_MODEL_PATH", "DigitServer", "load_default_model", "make_server"]
