"""Module mechanics against torch.nn: registration, traversal, state dicts, strict loading,
train/eval, zero_grad, dtype moves, hooks, containers and reprs."""
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as tnn

import convgrad as cg
import convgrad.nn as nn
from parity import check_raises_like


def _numpy_state(module):
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


# A composite model built identically in both libraries: nesting, Sequential, ModuleList,
# BatchNorm buffers, a parameter-free child, a layer without bias.
def _composite(lib):
    class Block(lib.Module):
        def __init__(self):
            super().__init__()
            self.conv = lib.Conv2d(3, 4, 3, padding=1, bias=False)
            self.bn = lib.BatchNorm2d(4)
            self.act = lib.ReLU()

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.stem = lib.Sequential(lib.Conv1d(1, 2, 3), lib.BatchNorm1d(2, momentum=None))
            self.blocks = lib.ModuleList([Block(), Block()])
            self.head = lib.Sequential(OrderedDict(flat=lib.Flatten(), fc=lib.Linear(8, 5)))
            self.register_buffer("scale", (torch if lib is tnn else cg).ones(3))
            self.register_buffer("scratch", (torch if lib is tnn else cg).zeros(2),
                                 persistent=False)

    return Net()


def test_state_dict_keys_order_and_shapes_equal_torch():
    mine, theirs = _composite(nn), _composite(tnn)
    mine_sd, theirs_sd = mine.state_dict(), theirs.state_dict()
    assert list(mine_sd) == list(theirs_sd)
    for key in theirs_sd:
        assert tuple(mine_sd[key].shape) == tuple(theirs_sd[key].shape), key
        assert mine_sd[key].dtype == theirs_sd[key].numpy().dtype, key
    assert "scratch" not in mine_sd and "blocks.0.bn.num_batches_tracked" in mine_sd


def test_parameters_buffers_children_modules_names_equal_torch():
    mine, theirs = _composite(nn), _composite(tnn)
    assert [n for n, _ in mine.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in mine.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in mine.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in mine.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in mine.modules()] == \
        [type(m).__name__ for m in theirs.modules()]
    assert sum(p.numel() for p in mine.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert len(list(mine.parameters(recurse=False))) == 0
    assert mine.get_submodule("blocks.1.bn") is mine.blocks[1].bn
    with pytest.raises(AttributeError, match="nothing"):
        mine.get_submodule("blocks.nothing")


def test_a_shared_parameter_and_module_are_listed_once_but_saved_under_both_names():
    def tied(lib):
        m = lib.Module()
        m.a = lib.Linear(3, 3)
        m.b = m.a
        return m

    mine, theirs = tied(nn), tied(tnn)
    assert len(list(mine.parameters())) == len(list(theirs.parameters())) == 2
    assert list(mine.state_dict()) == list(theirs.state_dict()) == \
        ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_state_dict_round_trip_with_torch_values():
    mine, theirs = _composite(nn), _composite(tnn)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(mine.state_dict()[key].numpy(), value.numpy())


def test_state_dict_values_share_memory_and_are_detached():
    layer = nn.Linear(3, 2)
    sd = layer.state_dict()
    assert not sd["weight"].requires_grad and not isinstance(sd["weight"], nn.Parameter)
    layer.weight.data[0, 0] = 42.0
    assert sd["weight"].numpy()[0, 0] == 42.0
    assert layer.state_dict(keep_vars=True)["weight"] is layer.weight
    assert list(layer.state_dict(prefix="model.")) == ["model.weight", "model.bias"]


def test_load_state_dict_casts_to_the_parameter_dtype_and_accepts_tensors():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": cg.tensor(np.eye(2)), "bias": np.array([1.0, 2.0])})
    assert layer.weight.dtype == np.float32
    np.testing.assert_array_equal(layer.weight.data, np.eye(2, dtype=np.float32))


def test_strict_loading_errors_match_torch_and_name_every_key():
    sd = {"weight": np.zeros((2, 2), np.float32), "extra": np.zeros(1, np.float32)}
    torch_sd = {k: torch.from_numpy(v) for k, v in sd.items()}
    message = check_raises_like(lambda: nn.Linear(2, 3).load_state_dict(sd),
                                lambda: tnn.Linear(2, 3).load_state_dict(torch_sd),
                                "Linear", r'Missing key\(s\).*"bias"',
                                r'Unexpected key\(s\).*"extra"',
                                r"size mismatch for weight.*\(2, 2\).*\(3, 2\)")
    assert message.count("\n\t") == 3


def test_strict_false_reports_keys_and_a_failed_load_changes_nothing():
    layer = nn.Linear(2, 3)
    before = _numpy_state(layer)
    result = layer.load_state_dict({"weight": np.ones((3, 2)), "junk": np.ones(1)},
                                   strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["junk"]
    np.testing.assert_array_equal(layer.weight.data, np.ones((3, 2)))
    np.testing.assert_array_equal(layer.bias.data, before["bias"])  # missing: left as it was
    assert repr(nn.Linear(2, 3).load_state_dict(nn.Linear(2, 3).state_dict())) == \
        repr(tnn.Linear(2, 3).load_state_dict(tnn.Linear(2, 3).state_dict()))
    # A size mismatch is an error even when not strict; nothing at all is copied.
    layer = nn.Linear(2, 3)
    before = _numpy_state(layer)
    with pytest.raises(RuntimeError, match="size mismatch for bias"):
        layer.load_state_dict({"weight": np.ones((3, 2)), "bias": np.ones(4)}, strict=False)
    for key, value in _numpy_state(layer).items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(RuntimeError, match='"weight".*received'):
        layer.load_state_dict({"weight": [[1.0, 2.0]] * 3, "bias": np.ones(3)})


def test_registration_errors_match_torch():
    def before_init(lib):
        class Broken(lib.Module):
            def __init__(self):
                self.layer = lib.Linear(1, 1)
        return Broken()

    check_raises_like(lambda: before_init(nn), lambda: before_init(tnn), "before Module.__init__")
    mine, theirs = nn.Linear(2, 3), tnn.Linear(2, 3)
    cases = [
        (lambda m, lib, t: setattr(m, "weight", t.zeros(3, 2)), "parameter 'weight'"),
        (lambda m, lib, t: m.register_buffer("a.b", t.zeros(1)), r'contain "\."'),
        (lambda m, lib, t: m.register_buffer("", t.zeros(1)), "empty string"),
        (lambda m, lib, t: m.register_buffer("weight", t.zeros(1)), "'weight' already exists"),
        (lambda m, lib, t: m.register_buffer("q", 3), "buffer 'q'"),
        (lambda m, lib, t: m.register_parameter("q", t.zeros(1)), "parameter 'q'"),
        (lambda m, lib, t: m.add_module("q", 3), "not a Module subclass"),
        (lambda m, lib, t: setattr(m, "weight", None) or m.train("yes"), "boolean"),
        (lambda m, lib, t: m.to(t.int64), "floating point"),
    ]
    for call, pattern in cases:
        check_raises_like(lambda: call(mine, nn, cg), lambda: call(theirs, tnn, torch), pattern)


def test_assignment_moves_a_name_between_registries_and_del_removes_it():
    m = nn.Module()
    m.thing = nn.Linear(1, 1)
    assert "thing" in m._modules
    m.thing = nn.Parameter(cg.zeros(2))
    assert "thing" in m._parameters and "thing" not in m._modules
    m.register_buffer("buf", cg.zeros(1))
    m.buf = cg.ones(1)
    assert m._buffers["buf"].data[0] == 1
    del m.thing
    assert not hasattr(m, "thing") and list(m.parameters()) == []
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        m.missing


def test_parameter_shares_memory_and_requires_grad():
    base = cg.tensor([1.0, 2.0])
    p = nn.Parameter(base)
    assert p.requires_grad and p.is_leaf and isinstance(p, cg.Tensor)
    base.data[0] = 5.0
    assert p.data[0] == 5.0
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([5.0, 2.0])))
    assert not nn.Parameter(cg.zeros(2), requires_grad=False).requires_grad
    assert type(p * 2) is cg.Tensor


def test_train_eval_propagate_and_return_self():
    model = _composite(nn)
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model.blocks.train(False)
    assert model.training and not model.blocks[0].bn.training


def test_zero_grad_sets_to_none_by_default_or_fills_zero():
    layer = nn.Linear(3, 2)
    layer(cg.ones(4, 3)).sum().backward()
    assert layer.weight.grad is not None
    layer.zero_grad(set_to_none=False)
    assert np.all(layer.weight.grad.data == 0)
    layer(cg.ones(4, 3)).sum().backward()
    np.testing.assert_allclose(layer.bias.grad.data, [4.0, 4.0])   # accumulated from 0
    layer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None


def test_to_double_casts_floating_parameters_and_buffers_but_not_the_counter():
    model = _composite(nn)
    weight = model.head.fc.weight
    model.head.fc(cg.ones(1, 8)).sum().backward()
    assert model.double() is model
    assert weight is model.head.fc.weight and weight.dtype == np.float64
    assert weight.grad.dtype == np.float64
    assert model.blocks[0].bn.running_var.dtype == np.float64
    assert model.blocks[0].bn.num_batches_tracked.dtype == np.int64
    assert model.float().head.fc.weight.dtype == np.float32
    model.to("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")


def test_a_conversion_to_the_current_dtype_keeps_the_arrays_as_torch_does():
    for lib, memory in ((nn, lambda t: t.data.ctypes.data), (tnn, lambda t: t.data_ptr())):
        layer = lib.BatchNorm1d(3)
        layer.weight.grad = (cg if lib is nn else torch).ones(3)
        tensors = [layer.weight, layer.weight.grad, layer.running_mean]
        addresses = [memory(t) for t in tensors]
        layer.float()
        layer.to(dtype=(cg if lib is nn else torch).float32)
        assert [memory(t) for t in tensors] == addresses, lib.__name__
    layer = nn.Linear(2, 2)
    data = layer.weight.data
    layer.float()
    assert layer.weight.data is data                      # not even a new array object


def test_apply_visits_children_before_parent_and_requires_grad_toggle():
    model, theirs = _composite(nn), _composite(tnn)
    seen, theirs_seen = [], []
    model.apply(lambda m: seen.append(type(m).__name__))
    theirs.apply(lambda m: theirs_seen.append(type(m).__name__))
    assert seen == theirs_seen
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_forward_hooks_see_the_output_and_can_be_removed():
    layer = nn.Linear(2, 2)
    shapes = []
    handle = layer.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
    layer(cg.ones(3, 2))
    handle.remove()
    layer(cg.ones(3, 2))
    assert shapes == [(3, 2)]
    with layer.register_forward_hook(lambda m, args, out: out * 0):
        assert np.all(layer(cg.ones(1, 2)).data == 0)
    assert np.any(layer(cg.ones(1, 2)).data != 0)


def test_forward_missing_raises_like_torch():
    check_raises_like(lambda: nn.Module()(1), lambda: tnn.Module()(1), "forward")


def test_repr_of_a_nested_model_equals_torch():
    assert repr(_composite(nn)) == repr(_composite(tnn))


def test_sequential_indexing_slicing_and_editing_like_torch():
    def build(lib):
        return lib.Sequential(lib.Linear(2, 3), lib.ReLU(), lib.Linear(3, 1))

    mine, theirs = build(nn), build(tnn)
    assert len(mine) == 3 and isinstance(mine[-1], nn.Linear)
    assert repr(mine[1:]) == repr(theirs[1:])
    assert list(mine[1:]._modules) == list(theirs[1:]._modules) == ["1", "2"]
    check_raises_like(lambda: mine[3], lambda: theirs[3], "out of range")
    del mine[0]
    del theirs[0]
    assert list(mine._modules) == list(theirs._modules)
    mine.append(nn.Tanh())
    theirs.append(tnn.Tanh())
    mine[0] = nn.Sigmoid()
    theirs[0] = tnn.Sigmoid()
    assert repr(mine) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    mine.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(mine(cg.tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_module_list_like_torch():
    def build(lib):
        return lib.ModuleList([lib.Linear(1, 1), lib.ReLU()])

    mine, theirs = build(nn), build(tnn)
    mine += [nn.Tanh()]
    theirs += [tnn.Tanh()]
    mine.insert(1, nn.Sigmoid())
    theirs.insert(1, tnn.Sigmoid())
    del mine[0]
    del theirs[0]
    assert repr(mine) == repr(theirs)
    assert [type(m).__name__ for m in mine[::2]] == [type(m).__name__ for m in theirs[::2]]
    check_raises_like(lambda: mine[-5], lambda: theirs[-5], "out of range")
    assert len(mine + build(nn)) == 5


def test_nn_functional_is_convgrad_functional():
    import convgrad.functional
    import convgrad.nn.functional as F
    for name in ("conv1d", "conv2d", "max_pool2d", "batch_norm", "cross_entropy", "relu"):
        assert getattr(F, name) is getattr(convgrad.functional, name)
