"""Pictures of training, mistakes, filters, feature maps and im2col (matplotlib, Agg).

This package is the only place in tinycnn that imports matplotlib; ``import tinycnn`` does not
import it. Every function returns a :class:`matplotlib.figure.Figure` drawn without pyplot
(no global state, no display needed) and, given ``out=``, saves it as a PNG atomically.

================================  =====================================================
:func:`plot_training_curves`      loss and accuracy per epoch, best epoch marked
:func:`plot_confusion_matrix`     counts per (true, predicted) class, row-normalised colours
:func:`plot_misclassified`        the most confident mistakes with their labels
:func:`plot_filters`              every filter of a conv layer
:func:`plot_feature_maps`         one image through every conv and pool layer
:func:`plot_probabilities`        the softmax output for one image
:func:`plot_im2col`               a receptive field and the im2col row it becomes
:func:`plot_shift_accuracy`       dense vs CNN accuracy on shifted digits
:func:`plot_grid`                 an experiment grid's accuracies over seeds
================================  =====================================================

In a Jupyter notebook a returned figure displays itself when it is the last expression of a
cell.
"""

from tinycnn.plots._figure import save_png
from tinycnn.plots.confusion import plot_confusion_matrix
from tinycnn.plots.curves import plot_training_curves
from tinycnn.plots.feature_maps import plot_feature_maps
from tinycnn.plots.filters import plot_filters
from tinycnn.plots.gallery import misclassified, plot_misclassified
from tinycnn.plots.grid import plot_grid
from tinycnn.plots.im2col_picture import plot_im2col
from tinycnn.plots.probabilities import plot_probabilities
from tinycnn.plots.shift import plot_shift_accuracy

__all__ = [
    "misclassified",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grid",
    "plot_im2col",
    "plot_misclassified",
    "plot_probabilities",
    "plot_shift_accuracy",
    "plot_training_curves",
    "save_png",
]
