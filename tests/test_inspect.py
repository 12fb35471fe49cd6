"""``convgrad.inspect``: activations and gradients by layer name, one example examined, the
window behind a feature-map cell and a weight's contributions, input files — and the
``inspect`` and ``predict`` commands, which agree with each other and with ``convgrad eval``.
"""
import json

import numpy as np
import pytest

import convgrad as cg
import convgrad.functional as F
import convgrad.nn as nn
from convgrad.inspect import examine, layer_modules, model_layers, record
from convgrad.inspect.inputs import InputError, read_input
from convgrad.inspect.windows import LayerError, output_window, weight_contributions
from convgrad.models import get_model
from model_runs import copy_run, data_environment, run_dir
from test_train_support import assert_one_line_error, convgrad

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module", autouse=True)
def mnist1d_home():
    with data_environment():
        yield


# ---------------------------------------------------------------------------- record
def test_record_gives_each_layers_output_and_gradient_and_removes_its_hooks():
    model = get_model("lenet5-small").double()
    x = cg.tensor(RNG.normal(size=(3, 1, 8, 8)), requires_grad=True)
    outputs = {}
    retained = [m.register_forward_hook(
        lambda m, a, out, name=name: outputs.__setitem__(name, out) or out.retain_grad())
        for name, m in layer_modules(model).items()]
    with record(model) as seen:
        F.cross_entropy(model(x), cg.tensor(np.array([1, 2, 3]))).backward()
    for handle in retained:
        handle.remove()
    assert list(seen.activations) == [name for name in layer_modules(model)]  # running order
    for name, out in outputs.items():
        np.testing.assert_array_equal(seen.activations[name], out.detach().numpy())
        np.testing.assert_allclose(seen.gradients[name], out.grad.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(seen.inputs["features.conv1"], x.detach().numpy())
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())


def test_record_removes_its_hooks_when_the_block_raises_and_names_unknown_layers():
    model = get_model("cnn")
    with pytest.raises(ValueError, match="boom"):
        with record(model, ["conv2"]):
            raise ValueError("boom")
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    with pytest.raises(KeyError, match="no layer named 'conv9' in ConvBase; its layers are "
                                       "conv1, conv2, conv3, linear"):
        with record(model, ["conv9"]):
            pass


def test_each_call_of_a_module_that_runs_twice_is_its_own_layer():
    model = get_model("reslenet-6").double()          # one MaxPool2d after each stage
    x = cg.tensor(RNG.normal(size=(2, 1, 8, 8)))
    calls = []
    handle = model.pool.register_forward_hook(
        lambda m, a, out: calls.append(out) or out.retain_grad())
    with record(model) as seen:
        F.cross_entropy(model(x), cg.tensor(np.array([1, 2]))).backward()
    handle.remove()
    assert [name for name in seen.activations if name.startswith("pool")] == ["pool", "pool#2"]
    for name, out in zip(["pool", "pool#2"], calls):
        np.testing.assert_array_equal(seen.activations[name], out.detach().numpy())
        np.testing.assert_allclose(seen.gradients[name], out.grad.numpy(), rtol=0, atol=1e-15)
    assert seen.inputs["pool#2"].shape == (2, 32, 4, 4)
    pools = [(layer.name, layer.output_shape) for layer in model_layers(model, (1, 8, 8))
             if layer.name.startswith("pool")]
    assert pools == [("pool", (16, 4, 4)), ("pool#2", (32, 2, 2))]
    stats = {s.name: s for s in examine(model, RNG.normal(size=(1, 8, 8)), 4).layers}
    assert stats["pool#2"].output_shape == (32, 2, 2) and stats["pool#2"].type == "MaxPool2d"


# ---------------------------------------------------------------------------- layers
def test_the_layers_of_a_resnet_include_its_blocks_and_their_skips():
    layers = model_layers(get_model("resnet20"), (3, 32, 32))
    names = [layer.name for layer in layers]
    # In the order they run: the block's last batch norm adds the shortcut (and applies the
    # ReLU) in one operation, so the shortcut runs before it.
    assert names[:9] == ["conv1", "bn1", "layer1.0.conv1", "layer1.0.bn1", "layer1.0.conv2",
                         "layer1.0.shortcut", "layer1.0.bn2", "layer1.0", "layer1.1.conv1"]
    blocks = [layer for layer in layers if layer.block == layer.name]
    assert len(blocks) == 9 and all(b.skip for b in blocks)
    assert sum(layer.params for layer in layers) == 269_722
    summary = cg.summary(get_model("resnet20"), (3, 32, 32))
    assert sum(layer.macs for layer in layers) == summary.total_macs
    plain = model_layers(get_model("plain20"), (3, 32, 32))
    assert [layer.name for layer in plain if layer.block == layer.name] == \
        [b.name for b in blocks] and not any(layer.skip for layer in plain)


# ---------------------------------------------------------------------------- examine
def test_examine_gives_the_models_numbers_and_leaves_the_model_as_it_was():
    model = get_model("resnet1d").train()
    for p in model.parameters():
        p.grad = cg.ones_like(p)
    x = RNG.normal(size=(1, 40)).astype(np.float32)
    seen = examine(model, x, label=4)
    assert model.training and all(np.all(p.grad.numpy() == 1) for p in model.parameters())
    model.eval()
    for p in model.parameters():
        p.grad = None
    logits = model(cg.tensor(x[None]))
    loss = F.cross_entropy(logits, cg.tensor(np.array([4])))
    loss.backward()
    # Recording a batch norm's own output runs it apart from the ReLU and residual add it is
    # otherwise fused with (BatchNorm.forward_relu): the same values, but activations laid
    # out differently, so later sums may round differently in float32's last bit.
    np.testing.assert_allclose(seen.logits, logits.detach().numpy()[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(seen.probabilities, F.softmax(logits.detach(), dim=1).numpy()[0],
                               rtol=1e-6, atol=1e-7)
    assert (seen.target, seen.label) == (4, 4)
    assert seen.loss == pytest.approx(float(loss.item()), rel=1e-6)
    stats = {s.name: s for s in seen.layers}
    conv = stats["layer2.0.conv1"]
    np.testing.assert_allclose(conv.weight_grad_norm,
                               np.linalg.norm(model.layer2[0].conv1.weight.grad.numpy()),
                               rtol=1e-6)
    output = seen.recording.activations["layer2.0.conv1"]
    assert conv.output_shape == (32, 20) == output.shape[1:]
    assert conv.mean == pytest.approx(float(output.astype(np.float64).mean()))
    assert conv.grad_norm == pytest.approx(
        float(np.linalg.norm(seen.recording.gradients["layer2.0.conv1"])))
    assert stats["layer1.0.shortcut"].weight_grad_norm is None
    unlabelled = examine(model, x)
    assert unlabelled.label is None and unlabelled.target == unlabelled.predicted


# ---------------------------------------------------------------------------- windows
class Odd(nn.Module):
    """Convolutions with every setting a window must follow: stride, dilation, groups,
    'same' and reflect padding, no bias."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(2, 4, 3, stride=2, padding=2, dilation=2, groups=2,
                           padding_mode="reflect")
        self.b = nn.Conv2d(4, 3, (2, 3), padding="same", bias=False)
        self.c = nn.Conv1d(1, 2, 4, stride=3, padding=2, padding_mode="circular")
        self.fc = nn.Linear(3 * 16 + 2 * 3, 5)

    def forward(self, x):
        image = self.b(self.a(x).relu())
        signal = self.c(x[:, :1, 0, :].reshape(1, 1, 8) + x[:, 1:, 1, :].reshape(1, 1, 8))
        return self.fc(cg.cat([image.reshape(1, -1), signal.reshape(1, -1)], dim=1))


@pytest.mark.parametrize("build, shape", [(Odd, (2, 8, 8)), (lambda: get_model("cnn"), (1, 40)),
                                          (lambda: get_model("lenet5-small"), (1, 8, 8))])
def test_every_window_sums_to_its_output_and_every_weights_uses_to_its_gradient(build, shape):
    model = build()
    seen = examine(model, RNG.normal(size=shape).astype(np.float32), label=1)
    convs = [name for name, layer in layer_modules(model).items()
             if isinstance(layer, (nn.Conv1d, nn.Conv2d))]
    assert convs
    for name in convs:
        conv = dict(model.named_modules())[name]
        x = seen.recording.inputs[name][0]
        y = seen.recording.activations[name][0]
        for index in np.ndindex(*y.shape):
            window = output_window(conv, x, y, index)
            assert len(window.terms) == conv.weight.shape[1] * np.prod(conv.kernel_size)
            assert window.sum + (window.bias or 0.0) == pytest.approx(window.value, abs=1e-5)
        g = seen.recording.gradients[name][0]
        for index in np.ndindex(*conv.weight.shape):
            parts = weight_contributions(conv, x, g, index)
            assert parts["products"].shape == y.shape[1:]
            assert parts["total"] == pytest.approx(seen.weight_grads[f"{name}.weight"][index],
                                                   abs=1e-6)


def test_a_padding_cell_says_which_cell_it_copies():
    conv = nn.Conv1d(1, 1, 3, padding=1, padding_mode="replicate")
    x = np.arange(5, dtype=np.float32)[None]
    y = conv(cg.tensor(x[None])).detach().numpy()[0]
    first = output_window(conv, x, y, (0, 0))
    cells = [(t.input.index, t.input.kind, t.input.value, t.input.source) for t in first.terms]
    assert cells == [([0, -1], "padding", 0.0, [0, 0]), ([0, 0], "input", 0.0, None),
                     ([0, 1], "input", 1.0, None)]
    with pytest.raises(LayerError, match=r"output cell \[0, 5\] is outside its shape \[1, 5\]"):
        output_window(conv, x, y, (0, 5))


# ---------------------------------------------------------------------------- input files
def test_arrays_of_every_accepted_shape_and_a_pickle_refused(tmp_path):
    signal = RNG.normal(size=40).astype(np.float32)
    for shape in [(40,), (1, 40), (1, 1, 40)]:
        np.save(tmp_path / "x.npy", signal.reshape(shape))
        read = read_input(tmp_path / "x.npy", (1, 40))
        np.testing.assert_array_equal(read.values, signal.reshape(1, 40))
    np.save(tmp_path / "bad.npy", signal.reshape(5, 8))
    with pytest.raises(InputError, match=r"holds an array of shape \(5, 8\) \(40 values\); the "
                                         r"model takes one example of shape \(1, 40\) or "
                                         r"\(40,\) or \(1, 1, 40\)"):
        read_input(tmp_path / "bad.npy", (1, 40))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects, which are read only as pickles"):
        read_input(tmp_path / "objects.npy", (1, 40))
    np.save(tmp_path / "nan.npy", np.full(40, np.nan))
    with pytest.raises(InputError, match="value 0 .* is nan; the model takes finite numbers"):
        read_input(tmp_path / "nan.npy", (1, 40))


def test_text_of_numbers(tmp_path):
    (tmp_path / "x.csv").write_text(",".join(str(v) for v in range(40)) + "\n")
    np.testing.assert_array_equal(read_input(tmp_path / "x.csv", (1, 40)).values[0],
                                  np.arange(40))
    rows = np.arange(64).reshape(8, 8) / 64
    (tmp_path / "digit.txt").write_text("\n".join(" ".join(map(str, r)) for r in rows))
    read = read_input(tmp_path / "digit.txt", (1, 8, 8))
    np.testing.assert_allclose(read.values[0], rows.astype(np.float32))
    assert "64 numbers in 8 rows" in read.description
    (tmp_path / "bad.csv").write_text("1, 2\n3, x7\n")
    with pytest.raises(InputError, match=r"bad.csv: line 2: 'x7' is not a number"):
        read_input(tmp_path / "bad.csv", (1, 40))


def test_an_image_becomes_the_models_input_as_its_data_set_was_scaled(tmp_path):
    from PIL import Image

    pixels = RNG.integers(0, 256, size=(56, 84, 4), dtype=np.uint8)
    pixels[..., 3] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "digit.png")
    read = read_input(tmp_path / "digit.png", (1, 28, 28), dataset="mnist")
    expected = np.asarray(Image.fromarray(pixels[..., :3], "RGB").convert("L").resize(
        (28, 28), Image.Resampling.BOX), dtype=np.float64) / 255
    np.testing.assert_allclose(read.values[0], expected, atol=1e-6)
    assert read.description == (f"{tmp_path / 'digit.png'}: a 84×56 RGBA image → transparent "
                                f"pixels over white → gray → resized to 28×28 (box filter) → "
                                f"÷255 to [0, 1], as mnist's pixels are")
    inverted = read_input(tmp_path / "digit.png", (1, 28, 28), invert=True)
    np.testing.assert_allclose(inverted.values, 1 - read.values, atol=1e-6)
    with pytest.raises(InputError, match="an image, but the model takes 1-D signals of shape "
                                         r"\(1, 40\)"):
        read_input(tmp_path / "digit.png", (1, 40))
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(InputError, match="fake.png: not an image that can be read"):
        read_input(tmp_path / "fake.png", (1, 28, 28))
    with pytest.raises(InputError, match="is a folder, not a regular file"):
        read_input(tmp_path, (1, 28, 28))


# ---------------------------------------------------------------------------- the commands
def _json(*args, cwd):
    process = convgrad(*args, "--json", cwd=cwd)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


def test_inspect_and_predict_agree_with_each_other_and_with_the_python_api(tmp_path):
    run = run_dir("cnn")
    inspected = _json("inspect", run, "--example", "7", "--save-input", "seven.npy", cwd=tmp_path)
    predicted = _json("predict", run, "--input", "seven.npy", cwd=tmp_path)
    assert predicted["probabilities"] == inspected["probabilities"]
    assert predicted["class"] == int(np.argmax(inspected["probabilities"]))
    assert list(inspected) == ["example", "label", "probabilities", "layers"]
    assert [list(layer) for layer in inspected["layers"]] == \
        [["name", "output_shape", "mean", "std", "grad_norm"]] * 4
    loaded = cg.load_run(run)
    seen = examine(loaded.model, loaded.data.test_x[7], int(loaded.data.test_y[7]))
    assert inspected["probabilities"] == [float(p) for p in seen.probabilities]
    assert inspected["label"] == int(loaded.data.test_y[7]) and inspected["example"] == 7
    assert [(layer["name"], layer["output_shape"], layer["grad_norm"])
            for layer in inspected["layers"]] == \
        [(s.name, list(s.output_shape), s.grad_norm) for s in seen.layers]
    # an earlier checkpoint gives other numbers, and the same in both commands
    early = _json("inspect", run, "--example", "7", "--checkpoint", "20", cwd=tmp_path)
    assert early["probabilities"] != inspected["probabilities"]
    at_20 = cg.load_run(run, checkpoint="20")
    assert early["probabilities"] == \
        [float(p) for p in examine(at_20.model, at_20.data.test_x[7]).probabilities]
    assert _json("predict", run, "--input", "seven.npy", "--checkpoint", "20",
                 cwd=tmp_path)["probabilities"] == early["probabilities"]


@pytest.mark.parametrize("checkpoint", ["last", "20"])
def test_inspect_and_eval_make_the_same_predictions_on_the_whole_test_set(tmp_path, checkpoint):
    """eval's confusion matrix is inspect's predictions counted, and eval's mean loss is the
    mean of inspect's −log p(label): the same probabilities, example by example."""
    run = run_dir("cnn")
    evaluated = _json("eval", run, "--checkpoint", checkpoint, "--batch-size", "1",
                      cwd=tmp_path)
    loaded = cg.load_run(run, checkpoint=checkpoint)
    x, y = loaded.data.test_x, loaded.data.test_y
    seen = [examine(loaded.model, x[i], int(y[i])) for i in range(len(y))]
    confusion = np.zeros((10, 10), dtype=int)
    np.add.at(confusion, (y, [s.predicted for s in seen]), 1)
    assert confusion.tolist() == evaluated["confusion"]
    assert evaluated["loss"] == pytest.approx(np.mean([s.loss for s in seen]), rel=1e-6)
    assert evaluated["loss"] == pytest.approx(
        -np.mean([np.log(np.float64(s.probabilities[label])) for s, label in zip(seen, y)]),
        rel=1e-5)
    with cg.no_grad():
        batched = F.softmax(loaded.model(cg.from_numpy(x[:50])), dim=1).numpy()
    one_by_one = np.stack([examine(loaded.model, x[i]).probabilities for i in range(50)])
    np.testing.assert_allclose(one_by_one, batched, rtol=1e-5, atol=1e-7)


def test_inspect_text_and_one_layer(tmp_path):
    process = convgrad("inspect", run_dir("cnn"), "--example", "3", "--layer", "conv2",
                       cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    lines = process.stdout.splitlines()
    assert lines[1].startswith("example 3 of the mnist1d test set, label ")
    assert lines[2].startswith("prediction: ") and "top: " in lines[2]
    assert lines[5].split()[0] == "layer"
    assert lines[6].split()[:4] == ["conv2", "Conv1d", "25", "×"]
    channels = [line.split()[0] for line in lines[8:] if line.strip()]
    assert channels[:2] == ["conv2,", "channel"] and channels[2:27] == [str(c) for c in range(25)]


def in_process(*args, cwd, capsys, monkeypatch):
    """The command run by ``convgrad.cli.main`` in this process (as the console script does,
    without its start-up time): a CompletedProcess-like record."""
    import types

    from convgrad.cli import main
    monkeypatch.chdir(cwd)
    try:
        status = main([str(a) for a in args])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=status, stdout=out, stderr=err)


def test_the_commands_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    run = run_dir("cnn")
    np.save(tmp_path / "wrong.npy", np.zeros((3, 3)))
    (tmp_path / "note.png").write_text("not a picture")
    broken = copy_run("cnn", tmp_path)
    model_file = broken / "checkpoints" / "step-0000020" / "model.safetensors"
    model_file.write_bytes(model_file.read_bytes()[:-10])
    (tmp_path / "empty" / "checkpoints").mkdir(parents=True)
    for args, fragment in [
        (("predict", run, "--input", "wrong.npy"), "wrong.npy: holds an array of shape (3, 3)"),
        (("predict", run, "--input", "note.png"), "note.png: an image, but the model takes "
                                                 "1-D signals"),
        (("predict", run, "--input", "missing.npy"), "missing.npy: no such file"),
        (("inspect", run, "--example", "1000"), "--example 1000: the mnist1d test set has "
                                                "1000 examples, numbered 0 to 999"),
        (("inspect", run, "--layer", "conv9"), "--layer conv9: cnn has no layer of that name"),
        (("inspect", run, "--checkpoint", "15"), "no checkpoint of step 15 (kept: 20, 40, 60"),
        (("inspect", broken, "--checkpoint", "20", "--example", "1"),
         "step-0000020/model.safetensors: "),
        (("predict", tmp_path / "empty", "--input", "wrong.npy"),
         "the run has no last checkpoint yet"),
        (("inspect", tmp_path, "--example", "1"), "not a run folder (no checkpoints/ folder)"),
        (("inspect", run, "--example", "-1"), "expected an example number from 0, got -1"),
        (("inspect", run, "--example", "1", "--save-input", "wrong.npy"),
         "--save-input wrong.npy: already exists; not overwritten"),
    ]:
        assert_one_line_error(in_process(*args, cwd=tmp_path, capsys=capsys,
                                         monkeypatch=monkeypatch), fragment)
    assert np.load(tmp_path / "wrong.npy").shape == (3, 3)         # nothing overwritten
    # and through the console script, as a user runs it
    assert_one_line_error(convgrad("predict", run, "--input", "note.png", cwd=tmp_path),
                          "note.png: an image, but the model takes 1-D signals")


def test_predict_reads_an_image_for_a_digits_model(tmp_path):
    from PIL import Image

    run = run_dir("lenet")
    loaded = cg.load_run(run)
    digit = loaded.data.test_x[5, 0]
    Image.fromarray(np.round(digit * 255).astype(np.uint8), "L").resize(
        (64, 64), Image.Resampling.NEAREST).save(tmp_path / "digit.png")
    answer = _json("predict", run, "--input", "digit.png", cwd=tmp_path)
    assert "resized to 8×8 (box filter) → ÷255 to [0, 1], as digits's pixels are" in \
        answer["input"]
    expected = examine(loaded.model, read_input(tmp_path / "digit.png", (1, 8, 8)).values)
    assert answer["probabilities"] == [float(p) for p in expected.probabilities]
    text = convgrad("predict", run, "--input", "digit.png", cwd=tmp_path)
    assert text.returncode == 0 and f"class: {answer['class']}" in text.stdout
