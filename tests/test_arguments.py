"""One argument normaliser: ``convgrad.shapes`` checks every convolution and pooling argument
and raises one neutral ``ArgumentError``; ``convgrad.functional`` (PyTorch's exception class),
``explain`` (a ``TraceError``, one CLI line) and the explorer's API (a 422) only translate it,
so the same bad setting reads the same everywhere."""
import ast
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import convgrad as cg
import convgrad.functional as F
from convgrad import explain, shapes
from convgrad.explain import TraceError
from convgrad.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx versions
    from fastapi.testclient import TestClient

SRC = Path(cg.__file__).resolve().parent

# (id, op, input, weight or None, settings, the argument at fault) — unbatched arrays, settings
# the explorer's request models accept, so that all four front ends can be asked
CASES = [
    ("groups do not divide the input channels", "conv2d", np.ones((3, 4, 4)),
     np.ones((2, 1, 2, 2)), dict(groups=2), "groups"),
    ("groups do not divide the output channels", "conv2d", np.ones((2, 4, 4)),
     np.ones((3, 1, 2, 2)), dict(groups=2), "groups"),
    ("channels differ", "conv1d", np.ones((3, 4)), np.ones((2, 2, 2)), {}, "weight"),
    ("kernel larger than the input", "conv2d", np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), {},
     "weight"),
    ("'same' with a stride", "conv2d", np.ones((1, 4, 4)), np.ones((1, 1, 2, 2)),
     dict(stride=2, padding="same"), "padding"),
    ("reflect padding as large as the input", "conv1d", np.ones((1, 3)), np.ones((1, 1, 3)),
     dict(padding=3, padding_mode="reflect"), "padding"),
    ("circular padding wraps twice", "conv1d", np.ones((1, 3)), np.ones((1, 1, 3)),
     dict(padding=4, padding_mode="circular"), "padding"),
    ("bias of the wrong length", "conv1d", np.ones((1, 4)), np.ones((2, 1, 2)),
     dict(bias=np.ones(3)), "bias"),
    ("output_padding as large as the stride", "conv_transpose1d", np.ones((1, 3)),
     np.ones((1, 1, 2)), dict(stride=2, output_padding=2), "output_padding"),
    ("transposed output cropped away", "conv_transpose2d", np.ones((1, 1, 1)),
     np.ones((1, 1, 1, 1)), dict(padding=1), "padding"),
    ("pool padding over half the kernel", "max_pool2d", np.ones((1, 4, 4)), None,
     dict(kernel_size=2, padding=2), "padding"),
    ("avg pool padding over half the kernel", "avg_pool1d", np.ones((1, 4)), None,
     dict(kernel_size=3, padding=2), "padding"),
    ("pool window larger than the input", "max_pool1d", np.ones((1, 3)), None,
     dict(kernel_size=5), "kernel_size"),
    ("divisor_override zero", "avg_pool2d", np.ones((1, 2, 2)), None,
     dict(kernel_size=2, divisor_override=0), "divisor_override"),
]


def _functional(op, x, w, settings):
    """The same call through convgrad.functional (nn.Conv's padding_mode as F.pad first, as
    nn.Conv*d does) and PyTorch; returns their exceptions."""
    settings = dict(settings)
    mode = settings.pop("padding_mode", "zeros")
    caught = []
    for lib, functional, tensor in ((cg, F, cg.tensor), (torch, TF, torch.tensor)):
        try:
            args = [tensor(x)] + ([] if w is None else [tensor(w)])
            if "bias" in settings:
                settings["bias"] = tensor(np.asarray(settings["bias"]))
            if mode != "zeros":
                layer = (torch.nn.Conv1d if lib is torch else cg.nn.Conv1d)(
                    w.shape[1], w.shape[0], w.shape[2], padding=settings["padding"],
                    padding_mode=mode, bias=False)
                layer(args[0])
            else:
                getattr(functional, op)(*args, **settings)
        except Exception as error:  # noqa: BLE001 - the class is what is compared
            caught.append(error)
        else:
            caught.append(None)
    return caught


@pytest.mark.parametrize("name, op, x, w, settings, argument", CASES, ids=[c[0] for c in CASES])
def test_one_message_in_every_front_end(name, op, x, w, settings, argument):
    args = [x] + ([] if w is None else [w])
    with pytest.raises(TraceError) as traced:
        explain.trace(op, *args, **settings)
    message = str(traced.value)
    assert traced.value.argument == argument

    body = {"input": x.tolist(), **({} if w is None else {"weight": w.tolist()}),
            **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in settings.items()}}
    answer = TestClient(create_app()).post(f"/api/{op}", json=body)
    assert answer.status_code == 422 and answer.json()["detail"] == message

    mode = settings.get("padding_mode", "zeros")
    mine, theirs = _functional(op, x, w, settings)
    assert theirs is not None, "PyTorch accepts this setting"
    if mode == "zeros":  # (nn.Conv's padding modes say it in F.pad's terms)
        assert type(mine) is type(theirs) and str(mine) == message


def test_the_normaliser_raises_one_neutral_error():
    with pytest.raises(shapes.ArgumentError) as caught:
        shapes.conv_arguments("conv2d", 2, (1, 3, 4, 4), (2, 1, 2, 2), None, 1, 0, 1, 2)
    assert caught.value.kind == "value" and caught.value.argument == "groups"
    with pytest.raises(shapes.ArgumentError) as caught:
        shapes.pool_window_arguments("max_pool2d", 2, 2.5, None, 0)
    assert caught.value.kind == "type" and caught.value.argument == "kernel_size"
    assert not issubclass(shapes.ArgumentError, (TypeError, RuntimeError, ValueError))
    # and functional translates each kind into PyTorch's class
    with pytest.raises(TypeError):
        F.max_pool2d(cg.tensor(np.ones((1, 1, 4, 4))), 2.5)
    with pytest.raises(IndexError):
        F.avg_pool2d(cg.tensor(np.ones((4, 4))), 2)
    with pytest.raises(NotImplementedError):
        F.pad(cg.tensor(np.ones((1, 4))), (1, 1), mode="mirror")


def _imports(path: Path) -> set:
    """Every module ``path`` imports, at the top or inside a function, as absolute names."""
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_nothing_below_the_command_line_imports_it():
    # convgrad.cli imports the command modules (by importlib), so none may import it back
    offenders = sorted(str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                       if path != SRC / "cli.py" and "convgrad.cli" in _imports(path))
    assert not offenders, f"these import convgrad.cli: {offenders}"

