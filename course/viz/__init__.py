"""Figures (matplotlib) and interactive explorers (ipywidgets) for the lectures."""

from course.viz.figures import (
    activation_and_derivative,
    plot_activation,
    plot_curves,
    plot_decision_boundary,
    plot_graph,
)
from course.viz.plots import confusion_matrix, plot_confusion, plot_history, show_images
from course.viz.widgets import Explorer, activation_explorer, training_explorer
