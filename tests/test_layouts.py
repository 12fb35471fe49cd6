"""Every op gives the same numbers whatever the memory layout of its inputs.

convgrad's stride-1 convolutions return channels-last arrays (an (N, C, H, W) view of
(N, H, W, C) memory) and slicing returns strided views, so each op must read them right.
"""
import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
from parity import channels_last, check_op

OPS = [
    ("conv2d", lambda lib, x, w: lib.conv2d(x, w, padding=1), [(2, 5, 6, 7), (4, 5, 3, 3)]),
    ("conv2d_same_dilated", lambda lib, x, w: lib.conv2d(x, w, padding="same", dilation=2),
     [(2, 6, 7, 5), (3, 6, 3, 3)]),
    ("conv2d_stride2", lambda lib, x, w: lib.conv2d(x, w, stride=2, padding=1),
     [(2, 5, 6, 7), (4, 5, 3, 3)]),
    ("conv1d", lambda lib, x, w: lib.conv1d(x, w, padding=2), [(2, 6, 9), (3, 6, 5)]),
    ("conv_transpose2d", lambda lib, x, w: lib.conv_transpose2d(x, w, stride=2),
     [(2, 4, 3, 4), (4, 3, 3, 3)]),
    ("batch_norm_train",
     lambda lib, x, w: lib.batch_norm(x, None, None, w[0, 0, 0], w[0, 0, 1], training=True),
     [(3, 4, 5, 6), (1, 1, 2, 4)]),
    # H and W swapped in memory: neither channels-first nor channels-last
    ("batch_norm_swapped_hw",
     lambda lib, x: lib.batch_norm(x.transpose(2, 3), None, None, training=True),
     [(2, 3, 4, 5)]),
    ("batch_norm_eval_swapped_hw",
     lambda lib, x, m: lib.batch_norm(x.transpose(2, 3), m[0].detach(),
                                      (m[1] ** 2 + 0.5).detach(), training=False),
     [(2, 3, 4, 5), (2, 3)]),
    ("relu_add", lambda lib, x, y: lib.relu(x) + y * 2, [(2, 3, 4, 5), (2, 3, 4, 5)]),
    ("max_pool2d", lambda lib, x: lib.max_pool2d(x, 2), [(2, 3, 6, 6)]),
    ("avg_pool2d", lambda lib, x: lib.avg_pool2d(x, 3, stride=2, padding=1), [(2, 3, 7, 6)]),
    ("adaptive_avg_pool2d", lambda lib, x: lib.adaptive_avg_pool2d(x, 1), [(2, 3, 5, 4)]),
    ("pad_reflect", lambda lib, x: lib.pad(x, (1, 2, 2, 1), mode="reflect"), [(2, 3, 5, 4)]),
    ("pad_channels", lambda lib, x: lib.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 2, 2)),
     [(2, 3, 6, 6)]),
    ("softmax", lambda lib, x: lib.log_softmax(x, dim=1), [(2, 5, 3, 3)]),
    ("linear_flat", lambda lib, x, w: lib.linear(x.flatten(1), w), [(2, 3, 2, 2), (4, 12)]),
]


@pytest.mark.parametrize("name,fn,shapes", OPS, ids=[op[0] for op in OPS])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_channels_last_inputs(name, fn, shapes, dtype, rng):
    arrays = [rng.standard_normal(shape) for shape in shapes]
    check_op(lambda *t: fn(F, *t), lambda *t: fn(torch.nn.functional, *t), *arrays,
             dtype=dtype, layout="channels_last", atol=1e-5 if dtype == np.float32 else None)


def test_strided_views_flow_through_a_network(rng):
    x = rng.standard_normal((4, 3, 9, 9))
    view = channels_last(x)[:, :, 1::2, ::2]          # channels-last, then a strided slice
    w = rng.standard_normal((5, 3, 3, 3))

    def net(lib, t, w):
        h = lib.relu(lib.conv2d(t, w, padding=1))
        return lib.max_pool2d(h, 2).sum(dim=(2, 3))

    check_op(lambda t, w: net(F, t, w), lambda t, w: net(torch.nn.functional, t, w),
             np.ascontiguousarray(view), w)
    mine = cg.Tensor._wrap(view)
    mine.requires_grad = True
    out = net(F, mine, cg.tensor(w))
    out.sum().backward()
    reference = torch.tensor(np.ascontiguousarray(view), requires_grad=True)
    net(torch.nn.functional, reference, torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), reference.grad.numpy(), rtol=1e-10)
