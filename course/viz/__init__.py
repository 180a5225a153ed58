"""Figures (matplotlib) and interactive explorers (ipywidgets) for the lectures."""

from course.viz.plots import confusion_matrix, plot_confusion, plot_history, show_images
