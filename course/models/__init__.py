"""Ready-made networks built from ``course.nn``."""

from course.models.captioning import CaptioningModel
from course.models.densenet import small_densenet
from course.models.lenet5 import lenet5
from course.models.mlp import mlp
from course.models.resnet import small_resnet
from course.models.summary import ModelSummary, summary
from course.models.unet import FCN, UNet, fcn, unet
from course.models.vgg import small_vgg
