"""``tinycnn serve``: a draw-a-digit page that shows what the network sees and thinks.

- :mod:`tinycnn.serve.api`: request checking, preprocessing
(``tinycnn.data.pictures.mnist_style``),
  prediction and the compact answer (probabilities, 28x28 input, conv feature maps);
- :mod:`tinycnn.serve.explain`: where one value comes from (``/api/explain``): a conv value's
  multiply-adds, a pooled value's window, a dense unit's largest contributions, a class's softmax;
- :mod:`tinycnn.serve.looks`: saliency and occlusion maps (``/api/looks``) and a fooling drawing
  (``/api/fool``), with :mod:`tinycnn.teach.looks`;
- :mod:`tinycnn.serve.server`: the standard-library HTTP server (``make_server``);
- :mod:`tinycnn.serve.default_model`: the small model shipped for use out of the box;
- ``static/index.html`` and ``static/app.js``: the page (canvas, live probabilities, every layer
  from the input to the softmax, a clicked value's explanation and receptive field, saliency,
  occlusion, fooling), no dependencies.
"""

from tinycnn.serve.default_model import DEFAULT_MODEL_PATH, load_default_model
from tinycnn.serve.server import DigitServer, make_server

__all__ = ["DEFAULT_MODEL_PATH", "DigitServer", "load_default_model", "make_server"]
