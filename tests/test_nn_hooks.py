"""Module hooks against PyTorch's: forward pre-hooks, forward hooks (with kwargs, prepend,
always_call), full backward hooks and backward pre-hooks — the same calls in the same order,
the same gradients handed to them, the same effect of what they return, the same errors.

Each test builds the same network in both libraries (weights copied), registers the same
hooks, runs the same forward and backward, and compares what the hooks saw and what came out.
"""
import warnings

import numpy as np
import pytest
import torch

import convgrad as cg
import convgrad.functional as F
import convgrad.nn as nn


def copy_weights(mine, theirs):
    for (name, p), (other, q) in zip(mine.named_parameters(), theirs.named_parameters()):
        assert name == other
        p.data[...] = q.detach().numpy()


def both(build_mine, build_theirs, seed=0):
    torch.manual_seed(seed)
    theirs = build_theirs().double()
    mine = build_mine().double()
    copy_weights(mine, theirs)
    return mine, theirs


def conv_nets():
    return both(lambda: nn.Sequential(nn.Conv1d(2, 3, 3, padding=1), nn.ReLU(),
                                      nn.Conv1d(3, 2, 3, stride=2)),
                lambda: torch.nn.Sequential(torch.nn.Conv1d(2, 3, 3, padding=1),
                                            torch.nn.ReLU(), torch.nn.Conv1d(3, 2, 3, stride=2)))


def numpy_of(value):
    if value is None:
        return None
    return value.detach().numpy()


def assert_same(a, b):
    """Nested tuples of tensors (or None) with equal values."""
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
        return
    assert (a is None) == (b is None)
    if a is not None:
        np.testing.assert_allclose(numpy_of(a), numpy_of(b), rtol=1e-12, atol=1e-12)


def run(net, lib, x, upstream, input_grad=True):
    t = (torch.tensor(x, requires_grad=input_grad) if lib is torch
         else cg.tensor(x, requires_grad=input_grad))
    out = net(t)
    out.backward(torch.tensor(upstream) if lib is torch else cg.tensor(upstream))
    return t, out


RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 2, 7))
UP = RNG.normal(size=(2, 2, 3))


# ------------------------------------------------------------------ forward pre-hooks
def test_forward_pre_hooks_replace_arguments_in_order_and_can_be_removed():
    mine, theirs = conv_nets()
    outputs = []
    for net, lib in ((mine, cg), (theirs, torch)):
        order = []
        first = net[0]
        h1 = first.register_forward_pre_hook(lambda m, args: (order.append(1), args[0] * 2)[1])
        first.register_forward_pre_hook(lambda m, args: order.append(2), prepend=True)
        first.register_forward_pre_hook(lambda m, args, kwargs: (order.append(3),
                                                                 ((args[0] + 1,), kwargs))[1],
                                        with_kwargs=True)
        x = lib.tensor(X) if lib is cg else torch.tensor(X)
        outputs.append(net(x))
        h1.remove()
        outputs.append(net(x))
        assert order == [2, 1, 3, 2, 3]
    assert_same((outputs[0], outputs[1]), (outputs[2], outputs[3]))


def test_a_pre_hook_with_kwargs_must_return_a_pair():
    mine, theirs = conv_nets()
    for net in (mine, theirs):
        net[0].register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match="tuple of"):
        theirs(torch.tensor(X))
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of "
                                           r"\(new_args, new_kwargs\)"):
        mine(cg.tensor(X))


# ------------------------------------------------------------------ forward hooks
def test_forward_hooks_see_args_kwargs_and_output_and_replace_it():
    mine, theirs = conv_nets()
    results = []
    for net, lib in ((mine, cg), (theirs, torch)):
        seen = []
        net[1].register_forward_hook(lambda m, args, out: seen.append(("plain", len(args))))
        net[1].register_forward_hook(lambda m, args, kwargs, out: (seen.append(("kw", kwargs)),
                                                                   out * -1)[1],
                                     with_kwargs=True)
        net[1].register_forward_hook(lambda m, args, out: seen.append("first"), prepend=True)
        results.append(net(lib.tensor(X) if lib is cg else torch.tensor(X)))
        assert seen == ["first", ("plain", 1), ("kw", {})]
    assert_same(results[0], results[1])


def test_an_always_call_hook_runs_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("forward failed")

    class TorchBroken(torch.nn.Module):
        def forward(self, x):
            raise ValueError("forward failed")

    for module in (Broken(), TorchBroken()):
        seen = []
        module.register_forward_hook(lambda m, args, out: seen.append("always"),
                                     always_call=True)
        module.register_forward_hook(lambda m, args, out: seen.append("normal"))
        with pytest.raises(ValueError, match="forward failed"):
            module(1.0)
        assert seen == ["always"]


def test_hooks_leave_with_their_handle_and_their_flags():
    layer = nn.Linear(2, 2)
    with layer.register_forward_hook(lambda m, a, kw, o: None, with_kwargs=True,
                                     always_call=True) as handle:
        assert handle.id in layer._forward_hooks_with_kwargs
    assert not layer._forward_hooks and not layer._forward_hooks_with_kwargs
    assert not layer._forward_hooks_always_called
    handle.remove()     # twice is harmless, as in PyTorch


# ------------------------------------------------------------------ full backward hooks
def record_backward(net, index, log):
    def hook(module, grad_input, grad_output):
        log.append(("grad", grad_input, grad_output))

    def pre_hook(module, grad_output):
        log.append(("pre", grad_output))

    net[index].register_full_backward_hook(hook)
    net[index].register_full_backward_pre_hook(pre_hook)


def test_full_backward_hooks_get_torchs_gradients():
    mine, theirs = conv_nets()
    logs = []
    for net, lib in ((mine, cg), (theirs, torch)):
        log = []
        for index in range(3):
            record_backward(net, index, log)
        run(net, lib, X, UP)
        logs.append(log)
    assert [entry[0] for entry in logs[0]] == [entry[0] for entry in logs[1]] == \
        ["pre", "grad", "pre", "grad", "pre", "grad"]
    for a, b in zip(*logs):
        assert_same(a[1:], b[1:])


def test_a_backward_hook_replacing_grad_input_changes_what_flows_on():
    mine, theirs = conv_nets()
    grads = []
    for net, lib in ((mine, cg), (theirs, torch)):
        net[2].register_full_backward_hook(lambda m, gi, go: (gi[0] * 3,))
        net[2].register_full_backward_pre_hook(lambda m, go: (go[0] - 1,))
        x, _ = run(net, lib, X, UP)
        grads.append((x.grad, *(p.grad for p in net.parameters())))
    assert_same(tuple(grads[0]), tuple(grads[1]))


def test_a_first_layer_hook_fires_with_grad_input_none_and_warns_as_torch():
    mine, theirs = conv_nets()
    logs = []
    for net, lib in ((mine, cg), (theirs, torch)):
        log = []
        record_backward(net, 0, log)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run(net, lib, X, UP, input_grad=False)
        assert any("no inputs require gradients" in str(w.message) for w in caught)
        logs.append(log)
    assert logs[0][1][1] == (None,)
    for a, b in zip(*logs):
        assert_same(a[1:], b[1:])


class Mix(nn.Module):
    def forward(self, a, b, scale):
        return a * b * scale, a - b


class TorchMix(torch.nn.Module):
    def forward(self, a, b, scale):
        return a * b * scale, a - b


def test_several_inputs_and_outputs_reach_one_hook_together():
    """grad_input has one entry per positional argument (None for the number), grad_output
    one per output; a replacement of both input gradients applies to both."""
    results = []
    a, b = RNG.normal(size=(3,)), RNG.normal(size=(3,))
    up1, up2 = RNG.normal(size=(3,)), RNG.normal(size=(3,))
    for module, lib in ((Mix(), cg), (TorchMix(), torch)):
        log = []

        def hook(m, grad_input, grad_output):
            log.append((grad_input, grad_output))
            return (grad_input[0] * 2, grad_input[1] + 1, None)

        module.register_full_backward_hook(hook)
        ta, tb = (lib.tensor(v, requires_grad=True) for v in (a, b))
        p, q = module(ta, tb, 0.5)
        lib.autograd.backward([p, q], [lib.tensor(up1), lib.tensor(up2)]) if lib is torch \
            else (p * lib.tensor(up1) + q * lib.tensor(up2)).sum().backward()
        assert len(log) == 1
        results.append((log[0], ta.grad, tb.grad))
    assert results[0][0][0][2] is None
    assert_same(results[0][0], results[1][0])
    assert_same(results[0][1:], results[1][1:])


def test_no_backward_hook_under_no_grad_or_after_remove():
    mine, _ = conv_nets()
    log = []
    handle = mine[0].register_full_backward_hook(lambda m, gi, go: log.append(1))
    with cg.no_grad():
        mine(cg.tensor(X))
    handle.remove()
    run(mine, cg, X, UP)
    assert log == []
    assert not mine[0]._backward_hooks


def test_a_hook_returning_the_wrong_number_of_gradients_raises_as_torch():
    mine, theirs = conv_nets()
    for net, lib in ((mine, cg), (theirs, torch)):
        net[1].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
        with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                               "grad_input, got 2, but expected 1"):
            run(net, lib, X, UP)


def test_gradients_by_layer_on_a_resnet_block_agree_with_retain_grad():
    """The hook's grad_output is ∂L/∂(the layer's output): the same as retain_grad sees."""
    from convgrad.models import get_model
    model = get_model("resnet1d").double().eval()
    seen = {}
    handles = [m.register_full_backward_hook(
        lambda m, gi, go, name=name: seen.__setitem__(name, go[0].numpy().copy()))
        for name, m in model.named_modules() if name]
    outputs = {}
    retained = [m.register_forward_hook(
        lambda m, a, out, name=name: outputs.__setitem__(name, out) or out.retain_grad())
        for name, m in model.named_modules() if name]
    x = cg.tensor(RNG.normal(size=(2, 1, 40)), requires_grad=True)
    F.cross_entropy(model(x), cg.tensor(np.array([3, 1]))).backward()
    for handle in handles + retained:
        handle.remove()
    assert set(seen) == set(outputs)
    for name, grad in seen.items():
        np.testing.assert_allclose(grad, outputs[name].grad.numpy(), rtol=1e-12, atol=1e-14)
