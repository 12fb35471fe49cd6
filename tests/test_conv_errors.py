"""Bad convolution calls: convgrad raises where PyTorch raises, with the same exception class,
and its message names the argument and the numbers (shapes, the formula with its values)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_raises_like


def _array(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return np.random.default_rng(0).standard_normal(shape).astype(dtype)
    return np.ones(shape, dtype=dtype)


def call(op, input_shape, weight_shape, bias_shape=None, dtype=np.float32, weight_dtype=None,
         bias_dtype=None, **kwargs):
    """The same call in convgrad and in PyTorch, as two thunks."""
    arrays = [_array(input_shape, dtype), _array(weight_shape, weight_dtype or dtype)]
    if bias_shape is not None:
        arrays.append(_array(bias_shape, bias_dtype or dtype))

    def mine():
        return getattr(F, op)(*[cg.tensor(a) for a in arrays], **kwargs)

    def theirs():
        return getattr(TF, op)(*[torch.tensor(a) for a in arrays], **kwargs)

    return mine, theirs


# id: (the two calls, regular expressions the message must contain)
CATALOGUE = {
    # ---- channels and groups
    "channel mismatch": (
        call("conv2d", (2, 3, 5, 5), (4, 2, 3, 3)),
        [r"3 channels", r"\[4, 2, 3, 3\]", r"groups=1", r"2·1 = 2"]),
    "channel mismatch with groups": (
        call("conv2d", (2, 4, 5, 5), (4, 3, 3, 3), groups=2),
        [r"4 channels", r"\[4, 3, 3, 3\]", r"groups=2", r"3·2 = 6"]),
    "channel mismatch unbatched": (
        call("conv1d", (2, 7), (4, 3, 3)),
        [r"input of size \[2, 7\] has 2 channels", r"\[4, 3, 3\]", r"= 3 channels"]),
    "groups do not divide input channels": (
        call("conv2d", (2, 3, 5, 5), (4, 1, 3, 3), groups=2),
        [r"3 channels", r"groups=2", r"1·2 = 2"]),
    "groups do not divide output channels": (
        call("conv2d", (2, 4, 5, 5), (3, 2, 3, 3), groups=2),
        [r"groups=2", r"output channels", r"\[3, 2, 3, 3\]", r"3 = 1·2 \+ 1"]),
    "fewer output channels than groups": (
        call("conv1d", (2, 4, 5), (2, 1, 3), groups=4),
        [r"groups=4", r"at least 4 output channels", r"\[2, 1, 3\]"]),
    "groups zero": (
        call("conv2d", (2, 4, 5, 5), (4, 4, 3, 3), groups=0), [r"groups", r"groups=0"]),
    "groups negative": (
        call("conv1d", (2, 4, 5), (4, 4, 3), groups=-2), [r"groups", r"groups=-2"]),
    "groups not an int": (
        call("conv2d", (2, 4, 5, 5), (4, 2, 3, 3), groups=2.0), [r"groups", r"2\.0"]),
    "transposed channel mismatch": (
        call("conv_transpose2d", (2, 3, 5, 5), (4, 4, 3, 3)),
        [r"3 channels", r"\[4, 4, 3, 3\]", r"weight\.shape\[0\] = 4", r"C_in, C_out/groups"]),
    "transposed groups do not divide input channels": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), groups=2),
        [r"groups=2", r"input channels", r"3 = 1·2 \+ 1"]),
    "transposed groups zero": (
        call("conv_transpose1d", (2, 4, 5), (4, 4, 3), groups=0), [r"groups=0"]),
    # ---- kernel and output size
    "kernel larger than input": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 7, 3)),
        [r"along H", r"⌊\(L \+ 2p − d\(k−1\) − 1\)/s⌋ \+ 1 = ",
         r"⌊\(5 \+ 2·0 − 1·\(7−1\) − 1\)/1⌋ \+ 1 = -1",
         r"spans d\(k−1\) \+ 1 = 1·\(7−1\) \+ 1 = 7", r"\[2, 3, 5, 5\]", r"\[4, 3, 7, 3\]"]),
    "dilated kernel larger than padded input": (
        call("conv1d", (2, 3, 5), (4, 3, 3), dilation=4, padding=1),
        [r"along L", r"⌊\(5 \+ 2·1 − 4·\(3−1\) − 1\)/1⌋ \+ 1 = -1", r"= 9 positions",
         r"5 \+ 1 \+ 1 = 7"]),
    "kernel larger than input along W": (
        call("conv2d", (1, 1, 6, 2), (1, 1, 1, 4), stride=2),
        [r"along W", r"⌊\(2 \+ 2·0 − 1·\(4−1\) − 1\)/2⌋ \+ 1 = 0"]),
    "'same' on an empty input": (
        call("conv1d", (2, 3, 0), (4, 3, 3), padding="same"),
        [r"along L", r"0 \+ 1 \+ 1 = 2", r"= 3 positions"]),
    "transposed output too small": (
        call("conv_transpose1d", (2, 3, 2), (3, 4, 3), padding=3, dtype=np.float64),
        [r"along L", r"\(2 − 1\)·1 − 2·3 \+ 1·\(3−1\) \+ 0 \+ 1 = -2", r"padding=3"]),
    "transposed output exactly zero": (
        call("conv_transpose2d", (1, 3, 3, 2), (3, 2, 3, 3), padding=(0, 2), dtype=np.float64),
        [r"along W", r"= 0"]),
    "transposed empty input": (
        call("conv_transpose1d", (2, 3, 0), (3, 4, 3)), [r"\[2, 3, 0\]", r"at least one position"]),
    "kernel size zero": (
        call("conv1d", (2, 3, 5), (4, 3, 0)), [r"kernel size", r"\[0\]"]),
    "transposed no output channels": (
        call("conv_transpose1d", (2, 3, 5), (3, 0, 3)), [r"C_out", r"= 0", r"\[3, 0, 3\]"]),
    # ---- stride, padding, dilation
    "stride zero": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=0), [r"stride", r"\[0, 0\]"]),
    "stride negative": (
        call("conv1d", (2, 3, 5), (4, 3, 3), stride=-1), [r"stride", r"\[-1\]"]),
    "stride zero along one axis": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=(1, 0)), [r"stride=\[1, 0\]"]),
    "transposed stride zero": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), stride=0), [r"stride=\[0, 0\]"]),
    "negative padding": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding=-1), [r"padding", r"\[-1, -1\]"]),
    "negative padding along one axis": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding=(1, -2)), [r"padding=\[1, -2\]"]),
    "transposed negative padding": (
        call("conv_transpose1d", (2, 3, 5), (3, 4, 3), padding=-1), [r"padding=\[-1\]"]),
    "'same' with stride 2": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding="same", stride=2),
        [r"'same'", r"stride=\[2, 2\]"]),
    "'same' strided along one axis": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding="same", stride=(1, 3)),
        [r"'same'", r"stride=\[1, 3\]"]),
    "unknown padding string": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding="full"),
        [r"'full'", r"'valid'", r"'same'"]),
    "padding string is case-sensitive": (
        call("conv1d", (2, 3, 5), (4, 3, 3), padding="SAME"), [r"'SAME'"]),
    "transposed padding string": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), padding="same"),
        [r"padding", r"'same'", r"no 'same' or 'valid'"]),
    "dilation zero": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dilation=0), [r"dilation", r"\[0, 0\]"]),
    "dilation negative": (
        call("conv1d", (2, 3, 5), (4, 3, 3), dilation=-1), [r"dilation=\[-1\]"]),
    "transposed dilation zero": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), dilation=0, dtype=np.float64),
        [r"dilation=\[0, 0\]"]),
    "stride not an int": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=1.5), [r"stride", r"1\.5"]),
    "padding tuple of floats": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), padding=(1.0, 1)), [r"padding", r"1\.0"]),
    "stride True": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=True), [r"stride", r"True"]),
    # ---- tuple lengths
    "stride tuple too long": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=(1, 1, 1)),
        [r"stride", r"2 values", r"\[1, 1, 1\]"]),
    "padding tuple too long for conv1d": (
        call("conv1d", (2, 3, 5), (4, 3, 3), padding=(1, 1)),
        [r"padding", r"1 values", r"\[1, 1\]"]),
    "dilation tuple too long": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dilation=(1, 1, 1)),
        [r"dilation", r"\[1, 1, 1\]"]),
    "empty stride tuple": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), stride=()), [r"stride", r"\[\]"]),
    "transposed output_padding tuple too long": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), stride=2, output_padding=(1, 1, 1)),
        [r"output_padding", r"\[1, 1, 1\]"]),
    # ---- output_padding
    "output_padding without stride or dilation": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), output_padding=1),
        [r"output_padding", r"along H", r"output_padding=1", r"stride=1", r"dilation=1"]),
    "output_padding equal to stride": (
        call("conv_transpose1d", (2, 3, 5), (3, 4, 3), stride=2, output_padding=2),
        [r"along L", r"output_padding=2", r"stride=2", r"dilation=1"]),
    "output_padding too large along W": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), stride=(1, 2), output_padding=(0, 3)),
        [r"along W", r"output_padding=3", r"stride=2"]),
    "negative output_padding": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3, 3), output_padding=-1),
        [r"output_padding", r"\[-1, -1\]"]),
    "output_padding string": (
        call("conv_transpose1d", (2, 3, 5), (3, 4, 3), output_padding="same"),
        [r"output_padding", r"'same'"]),
    # ---- dimensions
    "conv2d input 5-D": (
        call("conv2d", (2, 3, 5, 5, 1), (4, 3, 3, 3)),
        [r"3-D unbatched", r"4-D batched", r"\[2, 3, 5, 5, 1\]", r"5-D"]),
    "conv2d input 2-D": (
        call("conv2d", (5, 5), (4, 3, 3, 3)), [r"\(N, C, H, W\)", r"\[5, 5\]"]),
    "conv1d input 1-D": (
        call("conv1d", (5,), (4, 3, 3)), [r"\(N, C, L\)", r"\[5\]", r"1-D"]),
    "conv2d weight 3-D": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3)),
        [r"4-D weight", r"\(C_out, C_in/groups, kH, kW\)", r"\[4, 3, 3\]"]),
    "conv1d weight 4-D": (
        call("conv1d", (2, 3, 5), (4, 3, 3, 3)), [r"3-D weight", r"\[4, 3, 3, 3\]"]),
    "transposed weight 3-D": (
        call("conv_transpose2d", (2, 3, 5, 5), (3, 4, 3)),
        [r"4-D weight", r"\(C_in, C_out/groups, kH, kW\)"]),
    "transposed input 2-D": (
        call("conv_transpose2d", (3, 5), (3, 4, 3, 3)), [r"conv_transpose2d", r"\[3, 5\]"]),
    # ---- bias
    "bias of the wrong length": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), (3,)),
        [r"bias", r"C_out = weight\.shape\[0\] = 4", r"\[3\]"]),
    "bias 2-D": (
        call("conv1d", (2, 3, 5), (4, 3, 3), (4, 1)), [r"bias", r"= 4", r"\[4, 1\]"]),
    "transposed bias of the wrong length": (
        call("conv_transpose2d", (2, 4, 5, 5), (4, 3, 3, 3), (3,), groups=2),
        [r"bias", r"weight\.shape\[1\]·groups = 3·2 = 6", r"\[3\]"]),
    # ---- dtypes and types
    "integer weight, float input": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), weight_dtype=np.int64),
        [r"float32", r"int64", r"weight"]),
    "float64 weight, float32 input": (
        call("conv1d", (2, 3, 5), (4, 3, 3), weight_dtype=np.float64),
        [r"input float32", r"weight float64"]),
    "integer input, float weight": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dtype=np.int64, weight_dtype=np.float32),
        [r"int64", r"float32"]),
    "bias dtype differs": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), (4,), bias_dtype=np.float64),
        [r"bias float64", r"input float32"]),
    "bool convolution": (
        call("conv2d", (2, 3, 5, 5), (4, 3, 3, 3), dtype=np.bool_), [r"bool"]),
    "int32 transposed convolution": (
        call("conv_transpose1d", (2, 3, 5), (3, 4, 3), dtype=np.int32), [r"int32"]),
}


def test_catalogue_is_large():
    assert len(CATALOGUE) >= 25


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_raises_like_torch(case):
    (mine, theirs), patterns = CATALOGUE[case]
    check_raises_like(mine, theirs, *patterns)


@pytest.mark.parametrize("argument", ["input", "weight", "bias"])
def test_arguments_that_are_not_tensors(argument):
    x, w, b = np.ones((1, 2, 4)), np.ones((3, 2, 2)), np.ones(3)
    mine = dict(input=cg.tensor(x), weight=cg.tensor(w), bias=cg.tensor(b))
    theirs = dict(input=torch.tensor(x), weight=torch.tensor(w), bias=torch.tensor(b))
    mine[argument] = theirs[argument] = np.ones(1)
    check_raises_like(lambda: F.conv1d(**mine), lambda: TF.conv1d(**theirs), argument, "ndarray")


def test_same_checks_hold_without_torch_in_the_loop():
    # One message read in full: the student sees the formula with their own numbers.
    with pytest.raises(RuntimeError) as caught:
        F.conv2d(cg.tensor(np.ones((1, 1, 4, 4))), cg.tensor(np.ones((1, 1, 3, 3))), stride=1,
                 padding=0, dilation=2)
    assert str(caught.value).startswith("conv2d: the kernel is larger than the padded input "
                                        "along H: the dilated kernel spans d(k−1) + 1 = 2·(3−1) "
                                        "+ 1 = 5 positions but the padded input has 4 + 0 + 0 = 4")
