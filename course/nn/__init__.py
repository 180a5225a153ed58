"""Modules with ``forward``/``backward``, parameters, train/eval and state (Torch7 style)."""

from course.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from course.nn.dense import DenseBlock, Transition
from course.nn.dropout import Dropout
from course.nn.init import he_normal, init_weight, xavier_normal
from course.nn.layers import (
    ELU,
    GELU,
    AffineOpModule,
    Flatten,
    LeakyReLU,
    Linear,
    OpModule,
    ReLU,
    Sigmoid,
    SiLU,
    Tanh,
)
from course.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from course.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm, Residual
from course.nn.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from course.nn.receptive_field import receptive_field
from course.nn.recurrent import LSTM, RNN, Embedding, TemporalLinear
