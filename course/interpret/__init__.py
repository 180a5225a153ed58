"""What a trained network has learned, and how to fool it (lecture 6d, understanding CNNs).

Every function works on any ``course`` model and on numpy or CuPy inputs (on the model's
device), runs the model in evaluation mode, and leaves it as it was: its mode, its caches and
its parameters' gradients are restored (:func:`inspecting`).

- layers: :func:`named_layers`, :func:`get_layer`, :func:`layer_output` (feature maps),
  :func:`layer_filters`;
- gradients of the input: :func:`saliency`, :func:`class_visualization`,
  :func:`score_gradient`, :func:`loss_gradient`;
- :func:`occlusion_map` and :func:`deconv_visualize` (Zeiler and Fergus);
- adversarial examples: :func:`fgsm`, :func:`fgsm_iterative`, :func:`success_rate`.
"""

from course.interpret.adversarial import fgsm, fgsm_iterative, success_rate
from course.interpret.deconv import deconv_visualize
from course.interpret.gradients import (
    class_visualization,
    gaussian_blur,
    loss_gradient,
    probabilities,
    saliency,
    score_gradient,
    softmax,
)
from course.interpret.layers import (
    get_layer,
    inspecting,
    layer_filters,
    layer_output,
    named_layers,
)
from course.interpret.occlusion import occlusion_map
