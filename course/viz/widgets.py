"""Interactive explorers (ipywidgets) for the lectures: move a control, see the figure change.

Each explorer is a :class:`Explorer`: a row of controls above a figure that is redrawn whenever a
control changes. It also carries the latest figure as a PNG image, so a notebook executed without
a browser (nbclient, nbconvert, a static viewer) still shows a picture where the widget would be;
JupyterLab shows the live widget.
"""

import base64
import io
import math

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display
from ipywidgets import widgets

from course.viz.figures import ACTIVATIONS, plot_activation, plot_curves


class Explorer(widgets.VBox):
    """Controls above a figure drawn by ``draw()``, redrawn whenever a control's value changes
    (lecture 1).

    Args:
        controls: ipywidgets value widgets (sliders, dropdowns, ...).
        draw: a function of no arguments that reads the controls and returns a new Figure.
    """

    def __init__(self, controls, draw):
        self.draw = draw
        self.output = widgets.Output()
        self.png = b""
        super().__init__([widgets.HBox(controls, layout={"flex_flow": "row wrap"}), self.output])
        for control in controls:
            control.observe(self.update, names="value")
        self.update()

    def update(self, change=None):
        """Redraw the figure (called once at construction and on every change)."""
        fig = self.draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=90)
        plt.close(fig)
        self.png = buffer.getvalue()
        self.output.clear_output(wait=True)
        with self.output:
            display(Image(data=self.png))

    def _repr_mimebundle_(self, **kwargs):
        # The live widget for JupyterLab, and the latest figure for viewers without widgets.
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        return bundle


def activation_explorer(name="leaky_relu", alpha=0.1, x_range=4.0):
    """Pick an activation, move alpha and the input range, see f(x) and f'(x) (lecture 1).

    The curves come from the course.ops forward/backward pair of the chosen function; the alpha
    slider is greyed out for the functions that have no alpha.
    """
    choose = widgets.Dropdown(options=list(ACTIVATIONS), value=name, description="function")
    alpha_slider = widgets.FloatSlider(value=alpha, min=0.0, max=2.0, step=0.05,
                                       description="alpha")
    range_slider = widgets.FloatSlider(value=x_range, min=0.5, max=10.0, step=0.5,
                                       description="x range")

    def draw():
        alpha_slider.disabled = ACTIVATIONS[choose.value] is None
        return plot_activation(choose.value, alpha_slider.value, range_slider.value)

    return Explorer([choose, alpha_slider, range_slider], draw)


def training_explorer(train, lr=0.1, momentum=0.0, lr_range=(1e-3, 1.0)):
    """Learning-rate and momentum sliders that retrain a model and redraw its curves (lecture 2).

    Args:
        train: ``train(lr, momentum) -> history``, a ``Trainer`` history with ``train_loss``
            and ``val_acc``. Keep it fast (well under a second): it runs on every slider release.
        lr, momentum: starting values. lr_range: (smallest, largest) learning rate.

    The previous run stays on the figure, dashed, for comparison.
    """
    low, high = (math.log10(v) for v in lr_range)
    lr_slider = widgets.FloatLogSlider(value=lr, base=10, min=low, max=high, step=0.1,
                                       description="learning rate", continuous_update=False)
    momentum_slider = widgets.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01,
                                          description="momentum", continuous_update=False)
    previous = {}  # the last run: label -> history

    def draw():
        label = f"lr={lr_slider.value:.3g}, momentum={momentum_slider.value:.2f}"
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is a lesson too
            history = train(lr_slider.value, momentum_slider.value)
        shown = {label: history}
        shown.update({f"{name} (previous)": h for name, h in previous.items()})
        previous.clear()
        previous[label] = history
        fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
        plot_curves(shown, "train_loss", ax=loss_ax, logy=True)
        plot_curves(shown, "val_acc", ax=acc_ax)
        for line in loss_ax.get_lines()[1:] + acc_ax.get_lines()[1:]:
            line.set_linestyle("--")
        if not np.isfinite(history["train_loss"][-1]):
            loss_ax.set_title("train loss: diverged", color="C3")
        fig.tight_layout()
        return fig

    return Explorer([lr_slider, momentum_slider], draw)
