"""Batch transforms: exact values on small cases, per-sample randomness, seeding, errors."""
import numpy as np
import pytest
import torch

from convgrad.data import (Compose, Normalize, RandomCrop, RandomHorizontalFlip, channel_stats,
                           crop_at, normalize, random_crop, random_horizontal_flip)


def image_3x3():
    return (np.arange(9, dtype=np.float32) + 1).reshape(1, 1, 3, 3)  # [[1,2,3],[4,5,6],[7,8,9]]


# ---------------------------------------------------------------- normalize
def test_normalize_exact_values_per_channel():
    x = np.array([[[[1.0, 3.0]], [[10.0, 30.0]]]], dtype=np.float32)  # (1, 2, 1, 2)
    out = normalize(x, mean=[2.0, 20.0], std=[0.5, 10.0])
    np.testing.assert_array_equal(out, [[[[-2.0, 2.0]], [[-1.0, 1.0]]]])
    assert out.dtype == np.float32
    assert normalize(x.astype(np.float64), [0, 0], [1, 1]).dtype == np.float64
    assert normalize(np.ones((1, 1, 3), np.uint8), [0.5], [0.5]).dtype == np.float32


def test_normalize_matches_torch_and_standardises():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -2.0, 5.0], [2.0, 0.5, 3.0], size=(64, 8, 8, 3)).transpose(0, 3, 1, 2)
    x = np.ascontiguousarray(x, dtype=np.float32)
    mean, std = channel_stats(x)
    out = normalize(x, mean, std)
    reference = (torch.from_numpy(x) - torch.tensor(mean, dtype=torch.float32)[:, None, None]) \
        / torch.tensor(std, dtype=torch.float32)[:, None, None]
    np.testing.assert_allclose(out, reference.numpy(), rtol=1e-6, atol=1e-6)
    new_mean, new_std = channel_stats(out)
    np.testing.assert_allclose(new_mean, 0, atol=1e-5)
    np.testing.assert_allclose(new_std, 1, atol=1e-5)


def test_normalize_errors():
    x = np.zeros((2, 3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="mean has 2 values, x has 3 channels"):
        normalize(x, [0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="std has a zero entry"):
        normalize(x, [0, 0, 0], [1, 0, 1])
    with pytest.raises(ValueError, match=r"expected a batch \(N, C, L\) or \(N, C, H, W\)"):
        normalize(np.zeros((4, 4)), [0], [1])


# ---------------------------------------------------------------- crops
def test_crop_at_exact_values_with_zero_padding():
    x = np.repeat(image_3x3(), 3, axis=0)  # three copies, cropped at three offsets
    out = crop_at(x, np.array([[0, 0], [1, 1], [2, 2]]), size=(3, 3), padding=1)
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 0], [0, 1, 2], [0, 4, 5]])
    np.testing.assert_array_equal(out[1, 0], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    np.testing.assert_array_equal(out[2, 0], [[5, 6, 0], [8, 9, 0], [0, 0, 0]])
    # a smaller crop, offsets along each axis separately
    out = crop_at(x[:2], np.array([[0, 2], [3, 1]]), size=(2, 2), padding=1)
    np.testing.assert_array_equal(out[0, 0], [[0, 0], [2, 3]])
    np.testing.assert_array_equal(out[1, 0], [[7, 8], [0, 0]])
    assert out.shape == (2, 1, 2, 2) and out.dtype == np.float32


def test_crop_at_signals_and_channels():
    x = np.stack([np.arange(5), 10 * np.arange(5)])[None].astype(np.float32)  # (1, 2, 5)
    x = np.concatenate([x, x + 100])  # (2, 2, 5)
    out = crop_at(x, np.array([[0], [4]]), size=(3,), padding=2)
    np.testing.assert_array_equal(out[0], [[0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(out[1], [[102, 103, 104], [120, 130, 140]])
    with pytest.raises(ValueError, match=r"offsets must have shape \(2, 1\)"):
        crop_at(x, np.zeros((2, 2), int), size=(3,))


def loop_reference_crop(x, offsets, size, padding):
    """One sample at a time, the obvious way (fine in a test)."""
    spatial = x.ndim - 2
    padded = np.pad(x, [(0, 0), (0, 0)] + [(padding, padding)] * spatial)
    out = []
    for sample, offset in zip(padded, offsets):
        window = tuple(slice(o, o + s) for o, s in zip(offset, size))
        out.append(sample[(slice(None),) + window])
    return np.stack(out)


@pytest.mark.parametrize("shape,size,padding", [((40, 3, 8, 8), None, 2), ((40, 2, 6, 9), 5, 1),
                                                ((40, 1, 40), None, 4), ((40, 3, 7, 5), (4, 6), 1)])
def test_random_crop_offsets_vary_per_sample(shape, size, padding):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    x[:] = x[:1]  # every sample the same: any difference in the output is the offset
    out = random_crop(x, np.random.default_rng(7), size=size, padding=padding)
    crop = shape[2:] if size is None else ((size,) * (len(shape) - 2) if np.isscalar(size)
                                           else size)
    assert out.shape == shape[:2] + tuple(crop) and out.dtype == np.float32
    # the documented draw: rng.integers(0, padded - size + 1, size=(N, spatial dims))
    high = [n + 2 * padding - c + 1 for n, c in zip(shape[2:], crop)]
    offsets = np.random.default_rng(7).integers(0, high, size=(shape[0], len(high)))
    distinct_offsets = len(np.unique(offsets, axis=0))
    assert distinct_offsets > 5
    assert len({sample.tobytes() for sample in out}) == distinct_offsets
    np.testing.assert_array_equal(out, loop_reference_crop(x, offsets, crop, padding))
    assert offsets.min() == 0 and (offsets.max(axis=0) == np.array(high) - 1).any()


def test_random_crop_without_padding_is_a_window_of_the_sample():
    x = np.arange(2 * 1 * 6 * 6, dtype=np.float32).reshape(2, 1, 6, 6)
    out = random_crop(x, np.random.default_rng(1), size=4)
    for sample, crop in zip(x, out):
        top, left = np.argwhere(sample[0] == crop[0, 0, 0])[0]
        np.testing.assert_array_equal(crop, sample[:, top:top + 4, left:left + 4])


def test_random_crop_errors():
    x = np.zeros((2, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=r"crop size \(7, 7\) does not fit in the padded "
                                         r"sample \(6, 6\)"):
        random_crop(x, np.random.default_rng(0), size=7, padding=1)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        random_crop(x, np.random.default_rng(0), padding=-1)
    with pytest.raises(TypeError, match="pass a numpy.random.Generator as rng"):
        random_crop(x, None, padding=1)


# ---------------------------------------------------------------- flips
def test_flip_is_per_sample_and_exact():
    x = np.random.default_rng(0).standard_normal((100, 2, 3, 5)).astype(np.float32)
    out = random_horizontal_flip(x, np.random.default_rng(4))
    flipped = np.random.default_rng(4).random(100) < 0.5  # the documented draw
    assert 30 < flipped.sum() < 70
    np.testing.assert_array_equal(out[flipped], x[flipped][..., ::-1])
    np.testing.assert_array_equal(out[~flipped], x[~flipped])
    assert out is not x and out.dtype == x.dtype


def test_flip_exact_small_case_and_extremes():
    x = np.concatenate([image_3x3(), image_3x3()])
    always = random_horizontal_flip(x, np.random.default_rng(0), p=1.0)
    np.testing.assert_array_equal(always[0, 0], [[3, 2, 1], [6, 5, 4], [9, 8, 7]])
    np.testing.assert_array_equal(always[1], always[0])
    np.testing.assert_array_equal(random_horizontal_flip(x, np.random.default_rng(0), p=0.0), x)
    signal = np.arange(4, dtype=np.float32).reshape(1, 1, 4)
    np.testing.assert_array_equal(random_horizontal_flip(signal, np.random.default_rng(0), 1.0),
                                  [[[3, 2, 1, 0]]])
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        random_horizontal_flip(x, np.random.default_rng(0), p=1.5)


# ---------------------------------------------------------------- composed
def test_compose_is_seeded_and_applies_in_order():
    x = np.random.default_rng(0).uniform(size=(16, 3, 8, 8)).astype(np.float32)
    augment = Compose([RandomCrop(8, padding=2), RandomHorizontalFlip(),
                       Normalize([0.5] * 3, [0.25] * 3)])
    first = augment(x, np.random.default_rng(11))
    np.testing.assert_array_equal(first, augment(x, np.random.default_rng(11)))
    assert not np.array_equal(first, augment(x, np.random.default_rng(12)))
    # the same three steps by hand, drawing from one generator in the same order
    rng = np.random.default_rng(11)
    by_hand = normalize(random_horizontal_flip(random_crop(x, rng, 8, 2), rng),
                        [0.5] * 3, [0.25] * 3)
    np.testing.assert_array_equal(first, by_hand)
    assert repr(augment) == ("Compose([RandomCrop(size=8, padding=2), RandomHorizontalFlip("
                             "p=0.5), Normalize(mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25])])")
