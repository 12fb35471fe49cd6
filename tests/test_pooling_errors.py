"""Bad pooling and padding calls: convgrad raises PyTorch's exception class, and says why.

Each case runs the same call in both libraries; ``check_raises_like`` asserts that both raise,
with the same class, and that convgrad's message names the argument and the numbers given
by the regular expressions (a formula with its values, a shape, the offending argument).
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from parity import check_raises_like

# (id, function, input shape, input dtype, args, kwargs, regexes convgrad's message matches)
CASES = [
    # ---- window arguments
    ("max2d padding over half the kernel", "max_pool2d", (1, 1, 5, 5), "float32", (2,),
     dict(padding=2), [r"padding=2", r"kernel_size=2", r"⌊2/2⌋ = 1"]),
    ("max2d padding over half on one axis", "max_pool2d", (1, 1, 9, 9), "float32", ((3, 2),),
     dict(padding=(1, 2)), [r"along W padding=2", r"kernel_size=2"]),
    ("max1d padding over half the kernel", "max_pool1d", (1, 1, 9), "float32", (3,),
     dict(padding=2, dilation=3), [r"padding=2", r"kernel_size=3"]),
    ("avg2d padding over half the kernel", "avg_pool2d", (1, 1, 5, 5), "float32", (3,),
     dict(padding=2), [r"padding=2", r"kernel_size=3"]),
    ("max2d kernel_size 0", "max_pool2d", (1, 1, 5, 5), "float32", (0,), {},
     [r"kernel_size", r"\(0, 0\)"]),
    ("max2d negative kernel_size", "max_pool2d", (1, 1, 5, 5), "float32", (-1,), {},
     [r"kernel_size=\(-1, -1\)"]),
    ("avg1d negative kernel_size", "avg_pool1d", (1, 1, 5), "float32", (-2,), {},
     [r"kernel_size=\(-2,\)"]),
    ("max2d stride 0", "max_pool2d", (1, 1, 5, 5), "float32", (2,), dict(stride=0),
     [r"stride=\(0, 0\)"]),
    ("max1d stride 0", "max_pool1d", (1, 1, 5), "float32", (2,), dict(stride=0),
     [r"stride=\(0,\)"]),
    ("avg2d negative stride", "avg_pool2d", (1, 1, 5, 5), "float32", (2,), dict(stride=-1),
     [r"stride=\(-1, -1\)"]),
    ("max2d dilation 0", "max_pool2d", (1, 1, 5, 5), "float32", (2,), dict(dilation=0),
     [r"dilation=\(0, 0\)"]),
    ("max1d dilation 0", "max_pool1d", (1, 1, 5), "float32", (2,), dict(dilation=0),
     [r"dilation=\(0,\)"]),
    ("max2d negative padding", "max_pool2d", (1, 1, 5, 5), "float32", (2,), dict(padding=-1),
     [r"padding=\(-1, -1\)", r"non-negative"]),
    ("avg1d negative padding", "avg_pool1d", (1, 1, 5), "float32", (2,), dict(padding=-1),
     [r"padding=\(-1,\)"]),
    # ---- output size
    ("max2d kernel larger than input", "max_pool2d", (2, 3, 5, 5), "float32", (6,), {},
     [r"along H", r"⌊\(5 \+ 2·0 − 1·\(6−1\) − 1\)/6⌋ \+ 1 = 0", r"\[2, 3, 5, 5\]"]),
    ("max2d dilation too wide", "max_pool2d", (1, 1, 5, 5), "float32", (2,), dict(dilation=5),
     [r"⌊\(5 \+ 2·0 − 5·\(2−1\) − 1\)/2⌋ \+ 1 = 0"]),
    ("max1d kernel larger than input", "max_pool1d", (1, 1, 4), "float32", (5,), {},
     [r"along L", r"⌊\(4 \+ 2·0 − 1·\(5−1\) − 1\)/5⌋ \+ 1 = 0"]),
    ("avg2d kernel larger with ceil_mode", "avg_pool2d", (1, 1, 2, 8), "float32", (4, 1),
     dict(ceil_mode=True), [r"along H", r"⌈\(2 \+ 2·0 − 1·\(4−1\) − 1\)/1⌉ \+ 1 = -1"]),
    ("avg1d kernel larger than input", "avg_pool1d", (1, 1, 4), "float32", (5,), {},
     [r"\(4 \+ 2·0 − 1·\(5−1\) − 1\)/5"]),
    # ---- tuple lengths and types
    ("max2d kernel_size of 3 values", "max_pool2d", (1, 1, 5, 5), "float32", ((2, 2, 2),), {},
     [r"kernel_size=\(2, 2, 2\)", r"3 values"]),
    ("max2d stride of 3 values", "max_pool2d", (1, 1, 5, 5), "float32", (2,),
     dict(stride=(1, 1, 1)), [r"stride", r"3 values"]),
    ("max2d dilation of 3 values", "max_pool2d", (1, 1, 5, 5), "float32", (2,),
     dict(dilation=(1, 1, 1)), [r"dilation", r"3 values"]),
    ("avg2d padding of 3 values", "avg_pool2d", (1, 1, 5, 5), "float32", (2,),
     dict(padding=(1, 1, 1)), [r"padding", r"3 values"]),
    ("max1d kernel_size of 2 values", "max_pool1d", (1, 1, 5), "float32", ((2, 2),), {},
     [r"kernel_size=\(2, 2\)", r"2 values"]),
    ("avg1d stride of 2 values", "avg_pool1d", (1, 1, 5), "float32", (2,),
     dict(stride=(1, 1)), [r"stride=\(1, 1\)"]),
    ("max2d empty kernel_size", "max_pool2d", (1, 1, 5, 5), "float32", ((),), {},
     [r"kernel_size=\(\)", r"0 values"]),
    ("max2d float kernel_size", "max_pool2d", (1, 1, 5, 5), "float32", (2.0,), {},
     [r"kernel_size=2\.0"]),
    ("max2d bool kernel_size", "max_pool2d", (1, 1, 5, 5), "float32", (True,), {},
     [r"kernel_size=True"]),
    ("avg2d divisor_override 0", "avg_pool2d", (1, 1, 4, 4), "float32", (2,),
     dict(divisor_override=0), [r"divisor_override=0"]),
    ("avg2d float divisor_override", "avg_pool2d", (1, 1, 4, 4), "float32", (2,),
     dict(divisor_override=2.5), [r"divisor_override=2\.5"]),
    # ---- inputs
    ("max2d 2-D input", "max_pool2d", (3, 4), "float32", (2,), {},
     [r"3-D or 4-D", r"\[3, 4\]"]),
    ("max2d 5-D input", "max_pool2d", (1, 1, 1, 4, 4), "float32", (2,), {},
     [r"\[1, 1, 1, 4, 4\]", r"5-D"]),
    ("avg2d 2-D input (IndexError)", "avg_pool2d", (3, 4), "float32", (2,), {},
     [r"\[3, 4\]", r"2-D"]),
    ("avg2d 5-D input", "avg_pool2d", (1, 1, 1, 4, 4), "float32", (2,), {}, [r"5-D"]),
    ("max1d 1-D input", "max_pool1d", (4,), "float32", (2,), {}, [r"2-D or 3-D", r"\[4\]"]),
    ("max1d 1-D input, indices", "max_pool1d", (4,), "float32", (2,),
     dict(return_indices=True), [r"\[4\]"]),
    ("avg1d 4-D input", "avg_pool1d", (1, 1, 4, 4), "float32", (2,), {}, [r"4-D"]),
    ("max2d zero channels", "max_pool2d", (1, 0, 4, 4), "float32", (2,), {},
     [r"\[1, 0, 4, 4\]", r"only the batch N"]),
    ("max1d zero length", "max_pool1d", (2, 3, 0), "float32", (2,), {}, [r"\[2, 3, 0\]"]),
    ("avg1d zero length", "avg_pool1d", (1, 1, 0), "float32", (2,), {}, [r"\[1, 1, 0\]"]),
    ("max2d bool input", "max_pool2d", (1, 1, 4, 4), "bool", (2,), {}, [r"bool"]),
    ("max1d integer input without indices", "max_pool1d", (1, 1, 4), "int64", (2,), {},
     [r"int64"]),
    ("avg2d bool input", "avg_pool2d", (1, 1, 4, 4), "bool", (2,), {}, [r"bool"]),
    # ---- adaptive
    ("adaptive2d negative size", "adaptive_avg_pool2d", (1, 1, 4, 4), "float32", (-1,), {},
     [r"output_size=\(-1, -1\)", r"greater than or equal to 0"]),
    ("adaptive2d three sizes", "adaptive_avg_pool2d", (1, 1, 4, 4), "float32", ((1, 2, 3),),
     {}, [r"output_size=\(1, 2, 3\)", r"with 3"]),
    ("adaptive2d one size in a list", "adaptive_avg_pool2d", (1, 1, 4, 4), "float32", ([3],),
     {}, [r"\[3\]", r"2 entries"]),
    ("adaptive2d float size", "adaptive_avg_pool2d", (1, 1, 4, 4), "float32", (2.0,), {},
     [r"output_size=2\.0"]),
    ("adaptive2d None", "adaptive_avg_pool2d", (1, 1, 4, 4), "float32", (None,), {},
     [r"output_size=None"]),
    ("adaptive2d 2-D input", "adaptive_avg_pool2d", (4, 4), "float32", (2,), {},
     [r"\[4, 4\]"]),
    ("adaptive2d empty height", "adaptive_avg_pool2d", (1, 1, 0, 5), "float32", (2,), {},
     [r"\[1, 1, 0, 5\]"]),
    ("adaptive2d integer input", "adaptive_avg_pool2d", (1, 1, 4, 4), "int64", (2,), {},
     [r"int64"]),
    ("adaptive1d two sizes", "adaptive_avg_pool1d", (1, 1, 4), "float32", ((2, 2),), {},
     [r"output_size=\(2, 2\)", r"2 values"]),
    ("adaptive1d None", "adaptive_avg_pool1d", (1, 1, 4), "float32", (None,), {},
     [r"output_size=None"]),
    ("adaptive1d negative size", "adaptive_avg_pool1d", (1, 1, 4), "float32", (-2,), {},
     [r"-2"]),
    ("adaptive1d 4-D input", "adaptive_avg_pool1d", (1, 1, 4, 4), "float32", (2,), {},
     [r"4-D"]),
    # ---- pad
    ("pad odd length", "pad", (2, 3, 4), "float32", ((1, 1, 1),), {},
     [r"pad=\(1, 1, 1\)", r"length 3"]),
    ("pad too long", "pad", (2, 3), "float32", ((1, 1, 1, 1, 1, 1),), {},
     [r"length 6", r"\[2, 3\]", r"2·2 = 4"]),
    ("pad an int", "pad", (2, 3), "float32", (1,), {}, [r"pad=1"]),
    ("pad with a float amount", "pad", (2, 3), "float32", ((1.0, 1),), {}, [r"1\.0"]),
    ("pad unknown mode", "pad", (2, 3, 4), "float32", ((1, 1),), dict(mode="zeros"),
     [r"'zeros'"]),
    ("reflect padding as large as the input", "pad", (2, 3, 4, 5), "float32", ((5, 0, 0, 0),),
     dict(mode="reflect"), [r"padding 5 for size 5", r"dimension 3"]),
    ("reflect padding larger after cropping", "pad", (1, 4), "float32", ((-2, 4),),
     dict(mode="reflect"), [r"padding 4 for size 4"]),
    ("reflect with a value", "pad", (2, 3, 4), "float32", ((1, 1),),
     dict(mode="reflect", value=2.0), [r"'reflect'", r"value=2\.0"]),
    ("reflect of 1 dim on a 4-D input", "pad", (2, 3, 4, 5), "float32", ((1, 1),),
     dict(mode="reflect"), [r"length 2", r"2-D or 3-D", r"4-D"]),
    ("replicate of 2 dims on a 2-D input", "pad", (4, 5), "float32", ((1, 1, 1, 1),),
     dict(mode="replicate"), [r"length 4", r"3-D or 4-D"]),
    ("replicate of 4 dims", "pad", (1, 2, 3, 4, 5), "float32", ((1,) * 8,),
     dict(mode="replicate"), [r"length 8"]),
    ("reflect empty channels", "pad", (2, 0, 5), "float32", ((1, 1),), dict(mode="reflect"),
     [r"\[2, 0, 5\]"]),
    ("replicate cropped to nothing", "pad", (1, 4), "float32", ((-2, -2),),
     dict(mode="replicate"), [r"4 \+ -2 \+ -2 = 0"]),
    ("circular wraps more than once", "pad", (2, 3, 4, 5), "float32", ((6, 0, 0, 0),),
     dict(mode="circular"), [r"padding 6 for size 5"]),
    ("circular wraps a cropped dimension twice", "pad", (1, 4), "float32", ((2, -3),),
     dict(mode="circular"), [r"wraps the 1 element"]),
    ("circular crops past nothing", "pad", (1, 4), "float32", ((-4, -1),),
     dict(mode="circular"), [r"4 \+ -4 \+ -1 = -1"]),
    ("constant crops more than the input", "pad", (1, 3, 3), "float32", ((-4, 2),), {},
     [r"cropping 4 \+ 0 from size 3"]),
]


def _inputs(shape, dtype):
    data = np.arange(int(np.prod(shape))).reshape(shape).astype(dtype)
    return cg.tensor(data), torch.tensor(data)


@pytest.mark.parametrize("name, fn, shape, dtype, args, kwargs, regexes", CASES,
                         ids=[c[0] for c in CASES])
def test_raises_like_torch(name, fn, shape, dtype, args, kwargs, regexes):
    cg_input, torch_input = _inputs(shape, dtype)
    message = check_raises_like(lambda: getattr(F, fn)(cg_input, *args, **kwargs),
                                lambda: getattr(TF, fn)(torch_input, *args, **kwargs),
                                *regexes)
    # Every message says which function refused the call.
    assert message.startswith(fn.split("_")[0] if fn == "pad" else fn), message


def test_the_catalogue_is_large_and_covers_every_function():
    assert len(CASES) >= 15
    assert {case[1] for case in CASES} == {"max_pool1d", "max_pool2d", "avg_pool1d",
                                           "avg_pool2d", "adaptive_avg_pool1d",
                                           "adaptive_avg_pool2d", "pad"}
