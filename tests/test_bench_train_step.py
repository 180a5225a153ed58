"""``benchmarks/train_step.py`` compares like with like: each PyTorch model has course's
parameters, and the captions have the layout the loss masks."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import train_step  # noqa: E402

pytestmark = pytest.mark.conv


def _course_model(name):
    from course.models import lenet5, small_resnet
    from course.models.captioning import CaptioningModel

    if name == "captioning":
        return CaptioningModel(train_step.VOCAB, wordvec_dim=train_step.WORDVEC,
                               hidden_dim=train_step.HIDDEN, rng=0)
    return lenet5(input_size=32, rng=0) if name == "lenet5" else small_resnet(rng=0)


@pytest.mark.parametrize("name", list(train_step.BATCH))
def test_the_torch_model_has_course_s_parameters(name):
    torch = pytest.importorskip("torch")
    ours = sorted(p.data.size for p in _course_model(name).parameters())
    theirs = sorted(p.numel() for p in train_step.torch_model(torch, name).parameters())
    if name == "captioning":  # PyTorch's LSTM has two biases (4H each), course's one
        theirs.remove(4 * train_step.HIDDEN)
    assert ours == theirs


def test_the_captions_are_start_words_end_then_padding():
    _, captions = train_step.batch_of("captioning")
    assert captions.shape == (train_step.BATCH["captioning"], train_step.CAPTION_LENGTH)
    for row in captions:
        end = int(np.flatnonzero(row == 2)[0])
        assert row[0] == 1 and (row[1:end] >= 3).all() and (row[end + 1:] == 0).all()
