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
:func:`plot_saliency`             the saliency map of a class, with a colour bar
:func:`plot_occlusion`            the probability lost when each patch is covered
:func:`plot_fooling`              a fooling image: the change, the new image, the probabilities
:func:`plot_class_visualisation`  gradient ascent on the input, one picture per class
================================  =====================================================

Concept figures (small worked examples; each returns the numbers it draws as an attribute of
the figure, e.g. ``figure.sliding``, so tests and readers can check them):

================================  =====================================================
:func:`plot_sliding_kernel`       a kernel sliding with stride and padding, the size formula
:func:`animate_sliding_kernel`    the same as an animated GIF, one frame per position
:func:`plot_multichannel`         C input channels, one filter, one output map
:func:`plot_maxpool`              max-pool forward and gradient routing, ties included
:func:`plot_architecture`         a model's layers with output shapes and parameter counts
:func:`plot_backward_flow`        values forward, gradients backward, with every shape
:func:`plot_dropout`              dropout in training vs at inference
:func:`plot_receptive_field`      what one unit of each layer sees of the input
:func:`plot_optimizer_paths`      SGD, momentum and Adam on a 2-D loss surface
:func:`plot_softmax_loss`         scores, exp, probabilities and the loss -log p
================================  =====================================================

In a Jupyter notebook a returned figure displays itself when it is the last expression of a
cell.
"""

from tinycnn.plots._figure import save_png
from tinycnn.plots.architecture import plot_architecture
from tinycnn.plots.backward_flow import plot_backward_flow
from tinycnn.plots.confusion import plot_confusion_matrix
from tinycnn.plots.curves import plot_training_curves
from tinycnn.plots.dropout_picture import plot_dropout
from tinycnn.plots.feature_maps import plot_feature_maps
from tinycnn.plots.filters import plot_filters
from tinycnn.plots.gallery import misclassified, plot_misclassified
from tinycnn.plots.grid import plot_grid
from tinycnn.plots.im2col_picture import plot_im2col
from tinycnn.plots.looks_pictures import (
    plot_class_visualisation,
    plot_fooling,
    plot_occlusion,
    plot_saliency,
)
from tinycnn.plots.multichannel import plot_multichannel
from tinycnn.plots.optimizer_paths import plot_optimizer_paths
from tinycnn.plots.pooling_picture import plot_maxpool
from tinycnn.plots.probabilities import plot_probabilities
from tinycnn.plots.receptive_field import plot_receptive_field
from tinycnn.plots.shift import plot_shift_accuracy
from tinycnn.plots.sliding import animate_sliding_kernel, plot_sliding_kernel
from tinycnn.plots.softmax_loss import plot_softmax_loss

__all__ = [
    "animate_sliding_kernel",
    "misclassified",
    "plot_architecture",
    "plot_backward_flow",
    "plot_dropout",
    "plot_maxpool",
    "plot_multichannel",
    "plot_optimizer_paths",
    "plot_receptive_field",
    "plot_sliding_kernel",
    "plot_class_visualisation",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_fooling",
    "plot_grid",
    "plot_im2col",
    "plot_misclassified",
    "plot_occlusion",
    "plot_probabilities",
    "plot_saliency",
    "plot_shift_accuracy",
    "plot_softmax_loss",
    "plot_training_curves",
    "save_png",
]
