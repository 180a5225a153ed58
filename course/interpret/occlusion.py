"""Occlusion sensitivity (Zeiler and Fergus, 2014) (lecture 6d): hide one patch of the image
at a time and see how much the model's belief in a class drops."""

from course.backend import get_array_module
from course.interpret.gradients import check_images, check_target, softmax
from course.interpret.layers import inspecting
from course.kernels.shapes import conv_output_size
from course.ops.checks import check_int_pair, check_number, check_positive_int


def occlusion_positions(image_size, patch, stride):
    """Top-left corners ``(row, col)`` of the patches, row by row, and the grid's (Ho, Wo)
    (lecture 6d): ``Ho = (H - PH) // SH + 1`` positions down, likewise across."""
    (h, w), (ph, pw), (sh, sw) = image_size, patch, stride
    ho, wo = conv_output_size(h, ph, sh, 0), conv_output_size(w, pw, sw, 0)
    return [(i * sh, j * sw) for i in range(ho) for j in range(wo)], (ho, wo)


def occlusion_map(model, x, target, patch=4, stride=2, fill=0.0, batch_size=256):
    """Drop in the target class's probability when each patch of each image is hidden
    (lecture 6d).

    A ``patch`` of pixels (all channels) is set to ``fill`` at every position of a grid with
    step ``stride``; the occluded images go through the model ``batch_size`` at a time (the
    patches of several images share a batch). Entry ``[n, i, j]`` is

        p(target_n | x_n) - p(target_n | x_n with the patch at (i * SH, j * SW) hidden),

    large where the image holds evidence for the class, negative where hiding hurts a rival.

    Args:
        model: any ``course`` image classifier (run in evaluation mode).
        x: (N, C, H, W) images. target: a class index, or (N,) one per image.
        patch: (PH, PW) or an int, at most the image's size. stride: (SH, SW) or an int.
        fill: the value hidden pixels get (0 is black for the digits).
        batch_size: occluded images per forward pass.

    Returns:
        (N, Ho, Wo) drops, on x's device, with ``Ho = (H - PH) // SH + 1``.
    """
    check_images("x", x)
    patch = check_int_pair("patch", patch, 1)
    stride = check_int_pair("stride", stride, 1)
    check_number("fill", fill)
    check_positive_int("batch_size", batch_size)
    n, _, h, w = x.shape
    if patch[0] > h or patch[1] > w:
        raise ValueError(f"patch {patch} is larger than the images ({h}, {w}): it must be at "
                         f"most (H, W)")
    xp = get_array_module(x)
    corners, grid = occlusion_positions((h, w), patch, stride)
    hidden = xp.zeros((len(corners), 1, h, w), dtype=bool)  # one mask per patch position
    for k, (r, c) in enumerate(corners):
        hidden[k, :, r:r + patch[0], c:c + patch[1]] = True
    with inspecting(model):
        scores = model.forward(x)
        target = xp.asarray(check_target(target, *scores.shape))
        base = softmax(scores)[xp.arange(n), target]
        pairs = xp.arange(n * len(corners))  # (image, position) pairs, image-major
        drops = xp.empty(len(pairs), dtype=x.dtype)
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start:start + batch_size]
            image, position = chunk // len(corners), chunk % len(corners)
            occluded = xp.where(hidden[position], x.dtype.type(fill), x[image])
            probs = softmax(model.forward(occluded))[xp.arange(len(chunk)), target[image]]
            drops[start:start + len(chunk)] = base[image] - probs
    return drops.reshape(n, *grid)
