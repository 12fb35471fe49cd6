"""Every layer against its torch.nn twin: same constructor arguments, torch's weights copied
in, same input; outputs, input gradients, parameter gradients, buffers (running statistics),
state-dict keys and reprs must agree.  float64 with tight tolerances."""
import numpy as np
import pytest
import torch
import torch.nn as tnn

import convgrad as cg
import convgrad.nn as nn
from parity import check_raises_like

TOL = dict(rtol=1e-10, atol=1e-12)
# torch warns that 'same' padding with an even kernel copies its input; that is torch's business.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


def check_layer(make, input_shape, *, train=True, steps=1, seed=0, forward_kwargs=None):
    """Build ``make(nn)`` and ``make(torch.nn)``, copy torch's state into ours, then run
    ``steps`` forward/backward passes on the same random inputs and compare everything."""
    rng = np.random.default_rng(seed)
    theirs = make(tnn).to(torch.float64).train(train)
    mine = make(nn).double().train(train)
    assert repr(mine) == repr(theirs)
    their_state = theirs.state_dict()
    assert list(mine.state_dict()) == list(their_state)
    mine.load_state_dict({k: v.numpy() for k, v in their_state.items()})
    kwargs = forward_kwargs or {}
    for _ in range(steps):
        x = rng.standard_normal(input_shape)
        x_mine, x_theirs = cg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        outs_mine, outs_theirs = _as_list(mine(x_mine, **kwargs)), _as_list(theirs(x_theirs, **kwargs))
        for o_mine, o_theirs in zip(outs_mine, outs_theirs):
            assert o_mine.shape == tuple(o_theirs.shape)
            assert o_mine.dtype == o_theirs.detach().numpy().dtype
            np.testing.assert_allclose(o_mine.data, o_theirs.detach().numpy(), **TOL)
        upstream = rng.standard_normal(tuple(outs_theirs[0].shape))
        if outs_theirs[0].requires_grad:
            (outs_mine[0] * cg.tensor(upstream)).sum().backward()
            (outs_theirs[0] * torch.tensor(upstream)).sum().backward()
            np.testing.assert_allclose(x_mine.grad.data, x_theirs.grad.numpy(), **TOL)
    for (name, p_mine), (_, p_theirs) in zip(mine.named_parameters(), theirs.named_parameters()):
        if p_theirs.grad is None:
            assert p_mine.grad is None, name
        else:
            np.testing.assert_allclose(p_mine.grad.data, p_theirs.grad.numpy(), err_msg=name, **TOL)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(mine.state_dict()[key].numpy(), value.numpy(), err_msg=key,
                                   **TOL)
    return mine, theirs


LINEAR_CASES = [
    (lambda lib: lib.Linear(4, 3), (5, 4)),
    (lambda lib: lib.Linear(4, 3, bias=False), (2, 5, 4)),
    (lambda lib: lib.Linear(4, 1), (4,)),
]

CONV_CASES = [
    (lambda lib: lib.Conv1d(3, 6, 3), (2, 3, 10)),
    (lambda lib: lib.Conv1d(1, 25, 5, stride=2, padding=1), (4, 1, 40)),
    (lambda lib: lib.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False),
     (2, 4, 11)),
    (lambda lib: lib.Conv1d(3, 4, 4, padding="same"), (2, 3, 9)),
    (lambda lib: lib.Conv1d(3, 4, 3, padding="valid"), (3, 9)),
    (lambda lib: lib.Conv1d(2, 3, 3, padding=2, padding_mode="reflect"), (2, 2, 7)),
    (lambda lib: lib.Conv1d(2, 3, 3, padding=2, padding_mode="replicate"), (2, 2, 7)),
    (lambda lib: lib.Conv1d(2, 3, 3, stride=2, padding=1, padding_mode="circular"), (2, 2, 7)),
    (lambda lib: lib.Conv1d(2, 3, 4, padding="same", padding_mode="reflect", dilation=1),
     (2, 2, 8)),
    (lambda lib: lib.Conv2d(3, 4, 3), (2, 3, 6, 5)),
    (lambda lib: lib.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), groups=2), (2, 4, 7, 6)),
    (lambda lib: lib.Conv2d(2, 4, 3, dilation=(2, 1), bias=False), (1, 2, 8, 6)),
    (lambda lib: lib.Conv2d(2, 3, 3, padding="same", dilation=2), (2, 2, 7, 7)),
    (lambda lib: lib.Conv2d(2, 3, (3, 2), padding=(1, 2), padding_mode="reflect"), (2, 2, 5, 6)),
    (lambda lib: lib.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"), (2, 5, 6)),
    (lambda lib: lib.Conv2d(2, 3, 3, stride=2, padding=(2, 1), padding_mode="circular"),
     (2, 2, 6, 5)),
    (lambda lib: lib.Conv2d(2, 3, (2, 4), padding="same", padding_mode="circular"), (1, 2, 5, 6)),
    # issue 9: padding past d(k−1) on both sides, ≥ 4 channels (the stride-1 grid crashed)
    (lambda lib: lib.Conv2d(4, 8, 3, padding=3), (2, 4, 5, 5)),
    (lambda lib: lib.Conv1d(4, 8, 3, padding=3), (2, 4, 6)),
    (lambda lib: lib.ConvTranspose1d(3, 4, 3), (2, 3, 6)),
    (lambda lib: lib.ConvTranspose1d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                                     dilation=2), (2, 4, 5)),
    (lambda lib: lib.ConvTranspose1d(3, 2, 4, stride=3, bias=False), (3, 5)),
    (lambda lib: lib.ConvTranspose2d(3, 4, 3), (2, 3, 4, 5)),
    (lambda lib: lib.ConvTranspose2d(4, 2, (3, 2), stride=(2, 3), padding=(1, 0),
                                     output_padding=(1, 2), groups=2), (2, 4, 4, 3)),
]

POOL_CASES = [
    (lambda lib: lib.MaxPool1d(3), (2, 3, 10)),
    (lambda lib: lib.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 3, 11)),
    (lambda lib: lib.MaxPool2d(2), (2, 3, 6, 7)),
    (lambda lib: lib.MaxPool2d((3, 2), stride=(2, 1), padding=1, ceil_mode=True), (2, 2, 7, 6)),
    (lambda lib: lib.MaxPool2d(3, padding=1, return_indices=True), (2, 2, 7, 7)),
    (lambda lib: lib.AvgPool1d(3), (2, 3, 10)),
    (lambda lib: lib.AvgPool1d(4, stride=3, padding=2, ceil_mode=True, count_include_pad=False),
     (2, 3, 10)),
    (lambda lib: lib.AvgPool2d(2), (2, 3, 6, 7)),
    (lambda lib: lib.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 2, 7, 6)),
    (lambda lib: lib.AvgPool2d(2, divisor_override=3, ceil_mode=True), (2, 2, 5, 5)),
    (lambda lib: lib.AdaptiveAvgPool1d(4), (2, 3, 10)),
    (lambda lib: lib.AdaptiveAvgPool1d(1), (3, 7)),
    (lambda lib: lib.AdaptiveAvgPool2d((3, None)), (2, 2, 7, 5)),
    (lambda lib: lib.AdaptiveAvgPool2d(1), (2, 4, 8, 8)),
]

ACTIVATION_CASES = [
    (lambda lib: lib.ReLU(), (3, 4)),
    (lambda lib: lib.LeakyReLU(), (3, 4)),
    (lambda lib: lib.LeakyReLU(0.2), (2, 3, 4)),
    (lambda lib: lib.GELU(), (3, 4)),
    (lambda lib: lib.GELU("tanh"), (3, 4)),
    (lambda lib: lib.Sigmoid(), (3, 4)),
    (lambda lib: lib.Tanh(), (3, 4)),
    (lambda lib: lib.Softmax(dim=1), (3, 4)),
    (lambda lib: lib.LogSoftmax(dim=-1), (2, 3, 4)),
    (lambda lib: lib.Flatten(), (2, 3, 4, 5)),
    (lambda lib: lib.Flatten(0, 2), (2, 3, 4, 5)),
    (lambda lib: lib.Identity(54, unused=True), (2, 3)),
    (lambda lib: lib.Dropout(0.3), (2, 3)),   # compared in eval mode (below)
]


@pytest.mark.parametrize("make, shape", LINEAR_CASES + CONV_CASES)
def test_parametrised_layers_match_torch(make, shape):
    check_layer(make, shape)


@pytest.mark.parametrize("make, shape", POOL_CASES + ACTIVATION_CASES)
def test_parameter_free_layers_match_torch(make, shape):
    check_layer(make, shape, train=False)


@pytest.mark.parametrize("output_size", [[11], [12], (1, 2, 12)])
def test_conv_transpose_output_size_picks_output_padding_as_torch(output_size):
    check_layer(lambda lib: lib.ConvTranspose1d(2, 2, 3, stride=2), (1, 2, 5),
                forward_kwargs=dict(output_size=output_size))
    check_layer(lambda lib: lib.ConvTranspose2d(2, 2, 3, stride=(2, 3)), (1, 2, 4, 4),
                forward_kwargs=dict(output_size=[10, 13]))


def test_conv_transpose_output_size_out_of_range_raises_like_torch():
    mine, theirs = nn.ConvTranspose1d(2, 2, 3, stride=2), tnn.ConvTranspose1d(2, 2, 3, stride=2)
    check_raises_like(lambda: mine(cg.zeros(1, 2, 5), output_size=[20]),
                      lambda: theirs(torch.zeros(1, 2, 5), output_size=[20]),
                      r"\[20\]", r"\[11\] to \[12\]")


BATCHNORM_CASES = [
    (lambda lib: lib.BatchNorm1d(3), (4, 3)),
    (lambda lib: lib.BatchNorm1d(3), (4, 3, 5)),
    (lambda lib: lib.BatchNorm1d(3, momentum=None), (4, 3, 5)),
    (lambda lib: lib.BatchNorm1d(3, affine=False, eps=1e-3, momentum=0.3), (4, 3)),
    (lambda lib: lib.BatchNorm1d(3, track_running_stats=False), (4, 3, 2)),
    (lambda lib: lib.BatchNorm2d(4), (2, 4, 3, 5)),
    (lambda lib: lib.BatchNorm2d(4, momentum=None, bias=False), (2, 4, 3, 5)),
    (lambda lib: lib.BatchNorm2d(2, track_running_stats=False, affine=False), (3, 2, 2, 2)),
]


@pytest.mark.parametrize("make, shape", BATCHNORM_CASES)
def test_batchnorm_training_running_statistics_and_eval_match_torch(make, shape):
    # Three training steps move the running statistics (and num_batches_tracked); the
    # parameter gradients accumulate over the three backward passes in both libraries.
    mine, theirs = check_layer(make, shape, train=True, steps=3)
    if mine.track_running_stats:
        assert int(mine.num_batches_tracked.data) == 3
    # Evaluation with the learned running statistics (copied state is identical).
    mine.eval()
    theirs.eval()
    x = np.random.default_rng(5).standard_normal(shape)
    np.testing.assert_allclose(mine(cg.tensor(x)).data,
                               theirs(torch.tensor(x)).detach().numpy(), **TOL)


def test_batchnorm_momentum_none_is_the_cumulative_average_of_batch_statistics():
    layer = nn.BatchNorm1d(2, momentum=None).double()
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((5, 2)) for _ in range(4)]
    for batch in batches:
        layer(cg.tensor(batch))
    np.testing.assert_allclose(layer.running_mean.data,
                               np.mean([b.mean(0) for b in batches], axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data,
                               np.mean([b.var(0, ddof=1) for b in batches], axis=0), rtol=1e-12)


def test_batchnorm_wrong_rank_raises_like_torch():
    check_raises_like(lambda: nn.BatchNorm1d(3)(cg.zeros(2, 3, 4, 5)),
                      lambda: tnn.BatchNorm1d(3)(torch.zeros(2, 3, 4, 5)), "2D or 3D", "4D")
    check_raises_like(lambda: nn.BatchNorm2d(3)(cg.zeros(2, 3, 4)),
                      lambda: tnn.BatchNorm2d(3)(torch.zeros(2, 3, 4)), "4D", "3D")


def test_float32_layers_stay_float32_and_agree():
    x = np.random.default_rng(1).standard_normal((2, 3, 8)).astype(np.float32)
    for make in (lambda lib: lib.Conv1d(3, 4, 3, padding=1), lambda lib: lib.BatchNorm1d(3),
                 lambda lib: lib.Linear(8, 2)):
        theirs, mine = make(tnn), make(nn)
        mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
        out = mine(cg.tensor(x))
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_layers_built_in_float64_hold_float64_parameters():
    assert nn.Linear(2, 3, dtype=cg.float64).weight.dtype == np.float64
    assert nn.Conv2d(2, 3, 3, dtype=np.float64).bias.dtype == np.float64
    bn = nn.BatchNorm2d(3, dtype=cg.float64)
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    with pytest.raises(RuntimeError, match="CPU only"):
        nn.Linear(2, 3, device="cuda")


CONSTRUCTOR_ERRORS = [
    (lambda lib: lib.Conv1d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
    (lambda lib: lib.Conv1d(4, 3, 3, groups=2), "out_channels must be divisible by groups"),
    (lambda lib: lib.Conv2d(4, 4, 3, groups=0), "groups must be a positive integer"),
    (lambda lib: lib.Conv1d(4, 4, 3, padding="full"), "Invalid padding string 'full'"),
    (lambda lib: lib.Conv2d(4, 4, 3, stride=2, padding="same"), "strided convolutions"),
    (lambda lib: lib.Conv1d(4, 4, 3, padding_mode="zero"), "padding_mode='zero'"),
    (lambda lib: lib.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), "ConvTranspose2d"),
    (lambda lib: lib.Dropout(1.5), "1.5"),
]


@pytest.mark.parametrize("make, pattern", CONSTRUCTOR_ERRORS)
def test_constructor_errors_match_torch(make, pattern):
    check_raises_like(lambda: make(nn), lambda: make(tnn), pattern)


def test_dropout_trains_with_a_seeded_mask_and_is_the_identity_in_eval():
    layer = nn.Dropout(0.25)
    x = cg.ones(200, 100)
    cg.manual_seed(3)
    first = layer(x).data
    cg.manual_seed(3)
    np.testing.assert_array_equal(layer(x).data, first)
    assert set(np.unique(first)) == {0.0, np.float32(1 / 0.75)}
    assert abs((first == 0).mean() - 0.25) < 0.01
    assert layer.eval()(x) is x


def test_loss_modules_match_torch():
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    weight = rng.uniform(0.5, 2, 4)
    cases = [
        (nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()),
        (nn.CrossEntropyLoss(weight=cg.tensor(weight), label_smoothing=0.1, reduction="sum"),
         tnn.CrossEntropyLoss(weight=torch.tensor(weight), label_smoothing=0.1, reduction="sum")),
        (nn.NLLLoss(ignore_index=2), tnn.NLLLoss(ignore_index=2)),
    ]
    for mine, theirs in cases:
        assert repr(mine) == repr(theirs) and list(mine.state_dict()) == list(theirs.state_dict())
        x_mine, x_theirs = cg.tensor(logits, requires_grad=True), torch.tensor(logits,
                                                                              requires_grad=True)
        loss_mine = mine(x_mine, cg.tensor(target))
        loss_theirs = theirs(x_theirs, torch.tensor(target))
        np.testing.assert_allclose(loss_mine.data, loss_theirs.detach().numpy(), **TOL)
        loss_mine.backward()
        loss_theirs.backward()
        np.testing.assert_allclose(x_mine.grad.data, x_theirs.grad.numpy(), **TOL)
    y = rng.standard_normal((6, 4))
    np.testing.assert_allclose(nn.MSELoss()(cg.tensor(logits), cg.tensor(y)).data,
                               tnn.MSELoss()(torch.tensor(logits), torch.tensor(y)).numpy(), **TOL)


# ----------------------------------------------------------------------------- properties
from hypothesis import given, strategies as st  # noqa: E402


@st.composite
def conv_layers(draw):
    """A valid Conv1d/Conv2d configuration (any padding mode) and an input shape for it."""
    spatial = draw(st.sampled_from([1, 2]))
    groups = draw(st.integers(1, 3))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(spatial))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(spatial))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    padding = draw(st.one_of(st.just("same"), st.just("valid"),
                             st.tuples(*[st.integers(0, 2)] * spatial)))
    stride = (1,) * spatial if padding == "same" else \
        tuple(draw(st.integers(1, 3)) for _ in range(spatial))
    # Long enough for the dilated kernel and for reflect padding (pad < length).
    size = tuple(draw(st.integers(d * (k - 1) + 3, d * (k - 1) + 7))
                 for k, d in zip(kernel, dilation))
    batch = draw(st.integers(1, 2))
    return (spatial, dict(in_channels=c_in, out_channels=c_out, kernel_size=kernel,
                          stride=stride, padding=padding, dilation=dilation, groups=groups,
                          bias=draw(st.booleans()), padding_mode=mode),
            (batch, c_in, *size))


@given(conv_layers(), st.integers(0, 2**16))
def test_conv_layers_of_any_configuration_match_torch(config, seed):
    spatial, kwargs, shape = config
    name = f"Conv{spatial}d"
    check_layer(lambda lib: getattr(lib, name)(**kwargs), shape, seed=seed)
