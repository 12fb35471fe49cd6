"""The PyTorch code the explorer shows: run with torch, it gives the API's output and gradients."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from convgrad import explain
from convgrad.web.app import create_app
from convgrad.web.snippet import literal, number, pytorch_snippet

TOL = dict(rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def ints(rng, shape):
    return rng.integers(-3, 4, size=shape).astype(float).tolist()


def settings():
    rng = np.random.default_rng(11)
    return [
        ("conv1d", {"input": ints(rng, (4, 7)), "weight": ints(rng, (2, 2, 3)), "bias": [0.5, -1],
                    "groups": 2, "stride": 2, "padding": 1, "dilation": 2}),
        ("conv1d", {"input": ints(rng, (1, 6)), "weight": ints(rng, (1, 1, 4)),
                    "padding": "same", "padding_mode": "circular"}),
        ("conv2d", {"input": [[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]],
                    "weight": [[[[1, 1], [1, 1]]]]}),
        ("conv2d", {"input": ints(rng, (2, 5, 5)), "weight": ints(rng, (2, 2, 3, 3)),
                    "bias": [1.0, -0.25], "padding": "same", "padding_mode": "reflect",
                    "grad_output": ints(rng, (2, 5, 5))}),
        ("conv2d", {"input": ints(rng, (2, 4, 5)), "weight": ints(rng, (4, 1, 2, 2)),
                    "groups": 2, "padding": [1, 2], "padding_mode": "replicate",
                    "stride": [2, 1]}),
        ("conv2d", {"input": ints(rng, (1, 5, 5)), "weight": ints(rng, (1, 1, 2, 2)),
                    "padding": "same"}),
        ("conv2d", {"input": [[[0.1, 1 / 3], [2.5e-7, -1e5]]], "weight": [[[[1 / 7]]]],
                    "padding": "valid"}),
        ("conv_transpose1d", {"input": ints(rng, (2, 4)), "weight": ints(rng, (2, 2, 3)),
                              "bias": [0.5, 1.5], "stride": 2, "padding": 1,
                              "output_padding": 1}),
        ("conv_transpose2d", {"input": ints(rng, (2, 3, 3)), "weight": ints(rng, (2, 1, 2, 3)),
                              "groups": 2, "stride": [2, 1], "dilation": [1, 2]}),
        ("max_pool1d", {"input": ints(rng, (2, 7)), "kernel_size": 3, "stride": 2,
                        "padding": 1, "ceil_mode": True}),
        ("max_pool2d", {"input": ints(rng, (1, 5, 5)), "kernel_size": 2, "dilation": 2,
                        "grad_output": ints(rng, (1, 2, 2))}),
        ("avg_pool1d", {"input": ints(rng, (1, 7)), "kernel_size": 3, "padding": 1,
                        "ceil_mode": True, "count_include_pad": False}),
        ("avg_pool2d", {"input": ints(rng, (2, 4, 4)), "kernel_size": 3, "stride": 1,
                        "padding": 1, "divisor_override": 4}),
    ]


def run_snippet(code: str) -> dict:
    namespace: dict = {"__name__": "__snippet__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about 'same' with an even kernel
        exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("op, body", settings(), ids=lambda v: v if isinstance(v, str) else "")
def test_snippet_reproduces_the_api(client, op, body, capsys):
    answer = client.post(f"/api/{op}", json=body).json()
    trace = answer["trace"]
    code = answer["snippet"]
    assert "import torch" in code and f"F.{op}(" in code
    namespace = run_snippet(code)
    printed = capsys.readouterr().out
    assert "output y[0]" in printed and "∂L/∂x" in printed
    y = namespace["y"].detach().numpy()[0]
    np.testing.assert_allclose(y, np.asarray(trace["output"]), **TOL)
    np.testing.assert_allclose(namespace["x"].grad.numpy()[0],
                               np.asarray(trace["backward"]["grad_input"]), **TOL)
    if trace["weight"] is not None:
        np.testing.assert_allclose(namespace["w"].grad.numpy(),
                                   np.asarray(trace["backward"]["grad_weight"]), **TOL)
    if trace["bias"] is not None:
        np.testing.assert_allclose(namespace["b"].grad.numpy(),
                                   np.asarray(trace["backward"]["grad_bias"]), **TOL)
    # the page's exact values, not rounded ones
    np.testing.assert_array_equal(namespace["x"].detach().numpy()[0], np.asarray(trace["input"]))


def test_snippet_runs_as_a_script():
    trace = explain.conv2d([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], [[[[1, 0], [0, -1]]]], [0.5],
                           padding=1, padding_mode="reflect")
    result = subprocess.run([sys.executable, "-c", pytorch_snippet(trace)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "output y[0] (the batch of one dropped): (1, 4, 4)" in result.stdout
    # y[0, 0, 0]: the reflected corner x[1, 1] = 5 times 1, plus x[0, 0] = 1 times −1, plus 0.5
    assert trace.output[0][0][0] == 4.5
    assert "[[[ 4.5000,  2.5000,  2.5000,  4.5000]," in result.stdout


def test_number_literals_read_back_exactly():
    for value in (0.1, 1 / 3, -2.5e-300, 1e6, -0.0, 7.0):
        assert float(eval(number(value))) == value
    assert eval(number(float("-inf"))) == float("-inf")
    assert literal([[1.0, 2.0], [3.0, 4.0]], 0) == "[[1.0, 2.0],\n [3.0, 4.0]]"
