"""The explorer's JSON API through FastAPI's TestClient: every op's numbers against PyTorch and
convgrad.functional, impossible settings named, malformed and oversized requests refused with a
4xx (never a 500, checked by a hypothesis fuzz too), static files served and nothing else."""
import json
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convgrad as cg
import convgrad.functional as F

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx versions
    from fastapi.testclient import TestClient

from browser import raw_get, running_server
from convgrad import explain
from convgrad.cli import main as cli_main
from convgrad.web import image, schemas
from convgrad.web.app import STATIC_DIR, create_app

TOL = dict(rtol=1e-10, atol=1e-10)
NOTES_X = [[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]]


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app())


def post(client, path, body):
    return client.post(path, json=body)


def arr(values):
    return np.asarray(values, dtype=np.float64)


def ints(rng, shape, low=-3, high=4):
    return rng.integers(low, high, size=shape).astype(float).tolist()


# ------------------------------------------------------------------ numbers against torch
def torch_reference(op, body):
    """(output, grad_input, grad_weight, grad_bias) from PyTorch for an API body."""
    x = torch.tensor(arr(body["input"])[None], requires_grad=True)
    w = torch.tensor(arr(body["weight"]), requires_grad=True) if "weight" in body else None
    b = torch.tensor(arr(body["bias"]), requires_grad=True) if body.get("bias") else None
    if op in ("conv1d", "conv2d"):
        dims = int(op[-2])
        module_class = torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d
        in_channels = x.shape[1]
        module = module_class(in_channels, w.shape[0], w.shape[2:], stride=body.get("stride", 1),
                              padding=body.get("padding", 0), dilation=body.get("dilation", 1),
                              groups=body.get("groups", 1), bias=b is not None,
                              padding_mode=body.get("padding_mode", "zeros")).double()
        with torch.no_grad():
            module.weight.copy_(w)
            if b is not None:
                module.bias.copy_(b)
        y = module(x)
        params = [module.weight, module.bias]
    else:
        fn = getattr(TF, op)
        kwargs = {k: v for k, v in body.items()
                  if k not in ("input", "weight", "bias", "grad_output")}
        if op.startswith("conv_transpose"):
            y = fn(x, w, b, **kwargs)
        else:
            y = fn(x, **kwargs)
        params = [w, b]
    g = torch.tensor(arr(body["grad_output"])[None]) if "grad_output" in body else torch.ones_like(y)
    y.backward(g)
    grads = [None if p is None else p.grad.numpy() for p in params]
    return y.detach().numpy()[0], x.grad.numpy()[0], grads[0], grads[1]


def convgrad_reference(op, body):
    """The same through convgrad.functional (padding modes: F.pad first, as nn.Conv does)."""
    x = cg.tensor(arr(body["input"])[None])
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in body.items()
              if k not in ("input", "weight", "bias", "grad_output", "padding_mode")}
    fn = getattr(F, op)
    if op in ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"):
        w = cg.tensor(arr(body["weight"]))
        b = cg.tensor(arr(body["bias"])) if body.get("bias") else None
        mode = body.get("padding_mode", "zeros")
        if mode != "zeros":
            dims = int(op[-2])
            module = (torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d)(
                x.shape[1], w.shape[0], w.shape[2:], padding=body.get("padding", 0),
                dilation=body.get("dilation", 1), padding_mode=mode)
            x = F.pad(x, tuple(module._reversed_padding_repeated_twice), mode=mode)
            kwargs["padding"] = 0
        return fn(x, w, b, **kwargs).numpy()[0]
    return fn(x, **kwargs).numpy()[0]


def cases():
    rng = np.random.default_rng(7)
    return [
        ("conv1d", {"input": ints(rng, (4, 9)), "weight": ints(rng, (2, 2, 3)),
                    "bias": [0.5, -1.0], "stride": 2, "padding": 2, "dilation": 2,
                    "groups": 2, "grad_output": ints(rng, (2, 5))}),
        ("conv1d", {"input": ints(rng, (1, 6)), "weight": ints(rng, (1, 1, 4)),
                    "padding": "same", "padding_mode": "reflect"}),
        ("conv2d", {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]]}),
        ("conv2d", {"input": ints(rng, (2, 5, 6)), "weight": ints(rng, (3, 2, 3, 2)),
                    "bias": [1.0, 0.0, -2.0], "stride": [2, 1], "padding": [1, 0],
                    "dilation": [1, 2], "grad_output": ints(rng, (3, 3, 4))}),
        ("conv2d", {"input": ints(rng, (2, 5, 5)), "weight": ints(rng, (2, 1, 3, 3)),
                    "groups": 2, "padding": "same", "padding_mode": "circular"}),
        ("conv2d", {"input": ints(rng, (1, 4, 5)), "weight": ints(rng, (1, 1, 2, 3)),
                    "padding": [1, 2], "padding_mode": "replicate", "bias": [0.25]}),
        ("conv2d", {"input": ints(rng, (1, 5, 5)), "weight": ints(rng, (1, 1, 2, 2)),
                    "padding": "same", "padding_mode": "reflect"}),
        ("conv2d", {"input": ints(rng, (2, 4, 5)), "weight": ints(rng, (2, 2, 2, 3)),
                    "padding": "same", "dilation": [2, 1]}),
        ("conv2d", {"input": ints(rng, (1, 3, 3)), "weight": ints(rng, (1, 1, 3, 3)),
                    "padding": "valid", "stride": 3}),
        ("conv_transpose1d", {"input": ints(rng, (2, 4)), "weight": ints(rng, (2, 1, 3)),
                              "bias": [1.0, 2.0], "stride": 3, "padding": 1,
                              "output_padding": 2, "groups": 2}),
        ("conv_transpose2d", {"input": ints(rng, (1, 3, 3)), "weight": ints(rng, (1, 2, 2, 3)),
                              "stride": [2, 1], "padding": [0, 1], "output_padding": [1, 0],
                              "dilation": [1, 2], "grad_output": None}),
        ("max_pool1d", {"input": ints(rng, (2, 7)), "kernel_size": 3, "stride": 2,
                        "padding": 1, "dilation": 2, "ceil_mode": True}),
        ("max_pool2d", {"input": ints(rng, (1, 5, 5)), "kernel_size": [2, 3], "padding": [1, 1],
                        "ceil_mode": True}),
        ("avg_pool1d", {"input": ints(rng, (1, 7)), "kernel_size": 3, "stride": 2, "padding": 1,
                        "ceil_mode": True, "count_include_pad": False}),
        ("avg_pool2d", {"input": ints(rng, (2, 4, 5)), "kernel_size": 2, "stride": 1,
                        "padding": 1, "count_include_pad": True}),
        ("avg_pool2d", {"input": ints(rng, (1, 4, 4)), "kernel_size": 3, "padding": 1,
                        "divisor_override": 5}),
    ]


@pytest.mark.parametrize("op, body", cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_op_returns_the_engines_numbers(client, op, body):
    body = {k: v for k, v in body.items() if v is not None}
    response = post(client, f"/api/{op}", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    trace = answer["trace"]
    out, grad_x, grad_w, grad_b = torch_reference(op, body)
    np.testing.assert_allclose(arr(trace["output"]), out, **TOL)
    np.testing.assert_allclose(arr(trace["backward"]["grad_input"]), grad_x, **TOL)
    if grad_w is not None:
        np.testing.assert_allclose(arr(trace["backward"]["grad_weight"]), grad_w, **TOL)
    if grad_b is not None:
        np.testing.assert_allclose(arr(trace["backward"]["grad_bias"]), grad_b, **TOL)
    np.testing.assert_allclose(arr(trace["output"]), convgrad_reference(op, body), **TOL)
    engine = answer["engine"]
    assert engine["available"] and engine["agrees"], engine
    assert engine["function"] == f"convgrad.functional.{op}"
    assert list(out.shape) == trace["output_shape"]
    # each window's products add up to its output, as the page shows them
    for window in trace["windows"][:5]:
        if trace["weight"] is not None:
            assert sum(t["product"] for t in window["terms"]) == pytest.approx(window["sum"])


def test_notes_example_and_its_counts(client):
    answer = post(client, "/api/conv2d", {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]],
                                          "bias": [0.0]}).json()
    assert answer["trace"]["output"] == [[[1.0, 0.0, 1.0], [2.0, 2.0, 2.0], [1.0, 2.0, 1.0]]]
    assert answer["trace"]["axes"][0]["substituted"].endswith("= 3")
    counts = answer["counts"]
    assert counts["layer"]["weights"]["value"] == 4 and counts["layer"]["total"] == 5
    assert counts["dense"]["d1"]["value"] == 16 and counts["dense"]["d2"]["value"] == 9
    assert counts["dense"]["weights"]["value"] == 144 and counts["dense"]["total"] == 153
    assert counts["ratio"] == pytest.approx(153 / 5)
    assert "1 · 1 · 2 · 2 = 4" in counts["layer"]["weights"]["formula"]
    # each weight is used at all 9 positions: the gradient with ∂L/∂y = 1 is the window sums
    assert answer["trace"]["backward"]["grad_weight"] == [[[[3.0, 3.0], [3.0, 3.0]]]]
    assert len(answer["trace"]["backward"]["weight"][0]["contributions"]) == 9


def test_pooling_counts_have_no_parameters(client):
    counts = post(client, "/api/max_pool2d", {"input": NOTES_X, "kernel_size": 2}).json()["counts"]
    assert counts["layer"]["total"] == 0 and counts["ratio"] is None
    assert counts["dense"]["weights"]["value"] == 16 * 4


def test_limits_are_published(client):
    limits = client.get("/api/limits").json()
    assert limits["max_side_2d"] == schemas.MAX_SIDE_2D
    assert limits["max_body_bytes"] == schemas.MAX_BODY_BYTES


def test_page_bounds_are_the_apis():
    """The page keeps its own copies of the bounds (it checks a link's values before it asks);
    they must be schemas' numbers, or the page would offer settings the API refuses."""
    state_js = (STATIC_DIR / "state.js").read_text()
    body = re.search(r"export const LIMITS = \{([^}]*)\}", state_js).group(1)
    page = {key: int(value) for key, value in re.findall(r"(\w+): (\d+)", body)}
    assert page == {"channels": schemas.MAX_CHANNELS, "length1d": schemas.MAX_LENGTH_1D,
                    "side2d": schemas.MAX_SIDE_2D, "kernel": schemas.MAX_KERNEL,
                    "stride": schemas.MAX_STRIDE, "padding": schemas.MAX_PADDING,
                    "dilation": schemas.MAX_DILATION,
                    "outputPadding": schemas.MAX_OUTPUT_PADDING}
    # the explorer's size bound, which the form keeps to
    bound = re.search(r"export const TRACE_BOUND = \{ products: (\d+), elements: (\d+) \}",
                      state_js)
    assert (int(bound.group(1)), int(bound.group(2))) == (schemas.MAX_TRACE_PRODUCTS,
                                                          explain.MAX_ELEMENTS)
    image_js = (STATIC_DIR / "image.js").read_text()

    def constant(name):
        return re.search(rf"^const {name} = (.*?);", image_js, re.M).group(1)

    assert int(constant("MAX_SIDE")) == schemas.IMAGE_MAX_SIDE
    assert int(constant("MAX_STRIDE")) == schemas.IMAGE_MAX_STRIDE
    kernel_sizes = json.loads(constant("KERNEL_SIZES"))
    paddings = json.loads(constant("PADDINGS").replace("'", '"'))
    assert max(kernel_sizes) == schemas.IMAGE_MAX_KERNEL
    assert paddings == ["same", "valid"] + [str(p) for p in range(schemas.IMAGE_MAX_PADDING + 1)]
    html = (STATIC_DIR / "index.html").read_text()
    for control in ("cin", "cout", "groups"):
        assert f'id="{control}" min="1" max="{schemas.MAX_CHANNELS}"' in html, control
    assert f'id="image-stride" min="1" max="{schemas.IMAGE_MAX_STRIDE}"' in html

    def options(select_id):
        select = re.search(rf'<select id="{select_id}">(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option(?: value="([^"]*)")?[^>]*>([^<]*)</option>', select)

    assert [value for value, _ in options("image-padding")] == paddings
    assert [int(text) for _, text in options("image-kernel-size")] == kernel_sizes


# a max-pooling window entirely in padding: its output is −∞ (PyTorch's too), its gradient 0
ALL_PADDING_WINDOWS = [
    ("max_pool1d", {"input": [[1, 2]], "kernel_size": 2, "padding": 1, "dilation": 3}),
    ("max_pool2d", {"input": [[[1, 2], [3, 4]]], "kernel_size": 2, "padding": 1, "dilation": 3}),
]


@pytest.mark.parametrize("op, body", ALL_PADDING_WINDOWS, ids=[c[0] for c in ALL_PADDING_WINDOWS])
def test_a_window_entirely_in_padding_is_minus_infinity_in_strict_json(client, op, body):
    response = post(client, f"/api/{op}", body)
    assert response.status_code == 200, response.text

    def refuse(constant):
        raise AssertionError(f"not strict JSON: {constant}")

    answer = json.loads(response.text, parse_constant=refuse)
    trace, engine = answer["trace"], answer["engine"]
    # PyTorch's forward only: for such a window it returns an index outside the input, and
    # its backward then writes out of bounds (a crash later in the same process).  No input
    # cell is in any window, so every input gradient is 0.
    x = torch.tensor(arr(body["input"])[None])
    kwargs = {k: v for k, v in body.items() if k != "input"}
    out = getattr(TF, op)(x, **kwargs)[0].numpy()
    grad_x = np.zeros(np.shape(body["input"]))
    assert np.isneginf(out).all()
    assert np.asarray(trace["output"]).ravel().tolist() == ["-inf"] * out.size
    np.testing.assert_array_equal(arr(trace["backward"]["grad_input"]), grad_x)
    assert engine["agrees"] and engine["largest_difference"] == 0.0, engine
    assert engine["max_abs_difference"] == {"output": 0.0, "grad_input": 0.0}


def test_engine_comparison_with_infinities():
    from convgrad.web.engine import compare
    inf = float("inf")
    assert compare([-inf, 1.0], [-inf, 1.0]) == (0.0, True)
    # an infinite reference must not widen the tolerance to infinity
    assert compare([-inf, 5.0], [-inf, 4.0]) == (1.0, False)
    assert compare([-inf], [0.0]) == (inf, False)
    assert compare([float("nan")], [float("nan")]) == (inf, False)
    assert compare([1e6 + 1e-4], [1e6]) == (pytest.approx(1e-4), True)  # relative to 1e6


def test_engine_report_stays_strict_json_when_it_disagrees_by_infinity():
    from convgrad import explain
    from convgrad.web.engine import run_engine
    trace = explain.max_pool1d([[1.0, 2.0]], 2, padding=1, dilation=3)
    trace.output = [[0.0]]  # the engine's −∞ against a finite reference
    report = run_engine(trace)
    assert report["agrees"] is False
    assert report["max_abs_difference"]["output"] == "inf" and report["largest_difference"] == "inf"
    json.dumps(report, allow_nan=False)


# ------------------------------------------------------------------ impossible settings
IMPOSSIBLE = [
    ("conv2d", {"input": [[[1, 2], [3, 4]]], "weight": [[[[1, 1, 1]] * 3]]},
     "must be at least 1"),
    ("conv2d", {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]], "stride": 2,
                "padding": "same"}, "'same' needs stride 1"),
    ("conv2d", {"input": [[[1.0]]] * 3, "weight": [[[[1.0]]]] * 3, "groups": 2},
     "groups=2 must divide the input channels"),
    ("conv2d", {"input": [[[1.0]]] * 2, "weight": [[[[1.0]]]] * 3, "groups": 2},
     "groups=2 must divide the output channels"),
    ("conv1d", {"input": [[1, 2, 3]], "weight": [[[1, 1]]], "padding": 3,
                "padding_mode": "reflect"}, "reflect padding along L must be smaller"),
    ("conv1d", {"input": [[1, 2, 3]], "weight": [[[1, 1]]], "bias": [1, 2]},
     "bias needs one value per output channel"),
    ("conv2d", {"input": [[[1, 2], [3, 4]]], "weight": [[[[1]], [[1]]]]},
     "expects C_in = weight.shape[1]·groups = 2·1 = 2"),
    ("max_pool2d", {"input": NOTES_X, "kernel_size": 2, "padding": 2},
     "at most half the kernel size"),
    ("avg_pool1d", {"input": [[1, 2, 3, 4]], "kernel_size": 3, "padding": 2},
     "at most half the kernel size"),
    ("conv_transpose1d", {"input": [[1, 2]], "weight": [[[1, 1]]], "stride": 2,
                          "output_padding": 2}, "smaller than either stride or dilation"),
    ("conv_transpose2d", {"input": [[[1.0]]], "weight": [[[[1.0]]]], "padding": 1},
     "must be at least 1"),
    ("conv1d", {"input": [[1, 2, 3]], "weight": [[[1, 1]]], "grad_output": [[1.0]]},
     "grad_output must have the output's shape"),
    ("conv2d", {"input": [[[1.0] * 16] * 16] * 4, "weight": [[[[1.0] * 7] * 7] * 4] * 4,
                "padding": 3}, "bound"),
]


@pytest.mark.parametrize("op, body, constraint", IMPOSSIBLE,
                         ids=[f"{c[0]}-{k}" for k, c in enumerate(IMPOSSIBLE)])
def test_impossible_settings_name_their_constraint(client, op, body, constraint):
    response = post(client, f"/api/{op}", body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and constraint in detail, detail


# ------------------------------------------------------------------ malformed requests
GOOD = {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]]}

MALFORMED = [
    ({**GOOD, "input": "x"}, 422, "input"),
    ({**GOOD, "weight": True}, 422, "weight"),
    ({"weight": GOOD["weight"]}, 422, "input: is required"),
    ({**GOOD, "extra": 1}, 422, "extra: is not a field"),
    ({**GOOD, "input": [[[1, 2], [3]]]}, 422, "rows must all have the same length"),
    ({**GOOD, "input": [[["1", 2]]]}, 422, "input[0][0][0]"),
    ({**GOOD, "input": [[[True, 2]]]}, 422, "input[0][0][0]"),
    ({**GOOD, "input": [[[1e7]]]}, 422, "at most 1e+06"),
    ({**GOOD, "input": [[[-1e7]]]}, 422, "at least -1e+06"),
    ({**GOOD, "input": [[[1.0] * 17]]}, 422, "at most 16 are allowed"),
    ({**GOOD, "input": [[[1.0]]] * 5}, 422, "input: has 5 entries; at most 4"),
    ({**GOOD, "input": []}, 422, "needs at least 1"),
    ({**GOOD, "input": [[[[1.0]]]]}, 422, "input[0][0][0]"),
    ({**GOOD, "stride": 0}, 422, "stride: must be from 1 to 6; got 0"),
    ({**GOOD, "stride": 99}, 422, "stride: must be from 1 to 6; got 99"),
    ({**GOOD, "stride": [1, 2, 3]}, 422, "list of 2"),
    ({**GOOD, "stride": 1.5}, 422, "stride: must be an integer"),
    ({**GOOD, "stride": True}, 422, "stride: must be an integer"),
    ({**GOOD, "padding": "full"}, 422, "'same' or 'valid'"),
    ({**GOOD, "padding": -1}, 422, "padding: must be from 0 to 6"),
    ({**GOOD, "padding_mode": "mirror"}, 422, "padding_mode"),
    ({**GOOD, "groups": "2"}, 422, "groups"),
    ({**GOOD, "groups": 10 ** 30}, 422, "groups"),
    ({**GOOD, "dilation": {"a": 1}}, 422, "dilation"),
    ({**GOOD, "bias": [1.0] * 5}, 422, "bias"),
    ({**GOOD, "grad_output": [[["a"]]]}, 422, "grad_output"),
]


@pytest.mark.parametrize("body, status, words", MALFORMED, ids=[str(k) for k in range(len(MALFORMED))])
def test_malformed_requests_are_refused_with_the_field_named(client, body, status, words):
    response = post(client, "/api/conv2d", body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and words in detail, detail


RAW = [
    (b'{"input": [[[NaN]]], "weight": [[[[1]]]]}', 422, "finite"),
    (b'{"input": [[[Infinity]]], "weight": [[[[1]]]]}', 422, "finite"),
    (b'{"input": [[[-Infinity]]], "weight": [[[[1]]]]}', 422, "finite"),
    (b'{"input": [[[1e400]]], "weight": [[[[1]]]]}', 422, "finite"),
    (b'{"input": [[[1' + b"0" * 400 + b']]], "weight": [[[[1]]]]}', 422, "input[0][0][0]"),
    (b'{"input": [[[1' + b"0" * 5000 + b']]], "weight": [[[[1]]]]}', 400, "JSON"),
    (b"[" * 50 + b"]" * 50, 400, "nested 50 levels"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, 400, "nested 40 levels"),
    (b"not json", 422, "not valid JSON"),
    (b'{"input": [[[1]]], ', 422, "not valid JSON"),
    (b"", 422, "a JSON object is required"),
    (b"null", 422, "body"),
    (b"[1, 2]", 422, "body"),
    (b'"conv2d"', 422, "body"),
    (b"\xff\xfe\x00", 400, "JSON"),
]


@pytest.mark.parametrize("raw, status, words", RAW, ids=[str(k) for k in range(len(RAW))])
def test_raw_bodies_get_a_clear_4xx(client, raw, status, words):
    response = client.post("/api/conv2d", content=raw,
                           headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_oversized_and_wrongly_typed_bodies(client):
    big = b'{"input": [' + b"1," * (schemas.MAX_BODY_BYTES // 2) + b"1]}"
    response = client.post("/api/conv2d", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert str(schemas.MAX_BODY_BYTES) in response.json()["detail"]

    def stream():  # no Content-Length: the guard counts as it reads
        for _ in range(40):
            yield b" " * 10_000

    response = client.post("/api/conv2d", content=stream(),
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    response = client.post("/api/conv2d", content=json.dumps(GOOD))
    assert response.status_code == 415 and "application/json" in response.json()["detail"]
    response = client.post("/api/conv2d", content=json.dumps(GOOD),
                           headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert client.get("/api/conv2d").status_code == 405
    assert client.post("/api/conv3d", json=GOOD).status_code == 404
    response = client.post("/api/conv2d", content=b"{}", headers={
        "content-type": "application/json", "content-length": "lots"})
    assert response.status_code == 400


# hypothesis: any JSON to any endpoint, and valid bodies with one field replaced by junk
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 20, 10 ** 20)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=6),
                                                                      children, max_size=5),
    max_leaves=30)
ENDPOINTS = [f"/api/{op}" for op in schemas.OP_MODELS] + ["/api/image"]
FIELDS = ["input", "weight", "bias", "stride", "padding", "dilation", "groups", "padding_mode",
          "output_padding", "kernel_size", "ceil_mode", "count_include_pad", "grad_output",
          "divisor_override", "image", "kernel", "mapping"]


def _dump(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(ENDPOINTS), body=JSON)
def test_fuzz_any_json_is_never_a_server_error(client, endpoint, body):
    response = client.post(endpoint, content=_dump(body),
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, (endpoint, body, response.text)
    assert "detail" in response.json() or response.status_code == 200


VALID = {
    "/api/conv2d": {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]], "bias": [0.5]},
    "/api/conv1d": {"input": [[1, 2, 3, 4]], "weight": [[[1, 0, -1]]], "padding": 1},
    "/api/conv_transpose2d": {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]], "stride": 2},
    "/api/max_pool1d": {"input": [[1, 2, 3, 4]], "kernel_size": 2},
    "/api/avg_pool2d": {"input": NOTES_X, "kernel_size": 2, "padding": 1},
    "/api/image": {"image": [[0.0, 0.5, 1.0]] * 3, "kernel": [[1.0]]},
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(sorted(VALID)), field=st.sampled_from(FIELDS), junk=JSON)
def test_fuzz_one_bad_field_is_never_a_server_error(client, endpoint, field, junk):
    body = dict(VALID[endpoint])
    body[field] = junk
    response = client.post(endpoint, content=_dump(body),
                           headers={"content-type": "application/json"})
    assert response.status_code < 500, (endpoint, body, response.text)
    if response.status_code != 200:
        assert isinstance(response.json()["detail"], str)


# ------------------------------------------------------------------ image mode
def test_bundled_image_is_the_generated_one(client):
    sample = client.get("/api/image/sample").json()
    pixels = arr(sample["pixels"])
    assert pixels.shape == (image.SAMPLE_SIZE, image.SAMPLE_SIZE)
    drawn = image.make_sample_image()
    np.testing.assert_allclose(pixels, np.round(drawn / 255.0, 4))
    assert image.decode_png(image.encode_png(drawn)).tolist() == drawn.tolist()
    # shapes, edges, texture: many gray levels, dark and bright
    assert len(np.unique(drawn)) > 100 and drawn.min() < 40 and drawn.max() > 230


@pytest.mark.parametrize("preset", list(image.PRESETS))
def test_image_presets_match_torch(client, preset):
    presets = {p["name"]: p for p in client.get("/api/image/presets").json()["presets"]}
    kernel = presets[preset]["kernel"]
    pixels = client.get("/api/image/sample").json()["pixels"]
    answer = post(client, "/api/image", {"image": pixels, "kernel": kernel, "padding": "same",
                                         "padding_mode": "reflect"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    x = torch.tensor(arr(pixels)[None, None])
    w = torch.tensor(arr(kernel)[None, None])
    module = torch.nn.Conv2d(1, 1, w.shape[2:], padding="same", padding_mode="reflect",
                             bias=False).double()
    with torch.no_grad():
        module.weight.copy_(w)
        expected = module(x)[0, 0].numpy()
    np.testing.assert_allclose(arr(result["output"]), expected, **TOL)
    gray = np.asarray(result["display"]["pixels"])
    assert gray.shape == expected.shape and gray.min() >= 0 and gray.max() <= 255
    assert result["display"]["mapping"] == ("signed" if abs(np.sum(kernel)) < 1e-9 else "clip")
    assert "convgrad.functional.conv2d" in result["engine"]["function"]


def test_image_display_mappings(client):
    body = {"image": [[0.0, 0.5, 1.0, 0.25]] * 4, "kernel": [[-1.0, 2.0]], "padding": 0,
            "stride": [1, 1]}
    outputs = {}
    for mapping in ("clip", "minmax", "signed"):
        result = post(client, "/api/image", {**body, "mapping": mapping}).json()
        outputs[mapping] = result
    values = arr(outputs["clip"]["output"])  # -0*1+... : [1, 1.5, -0.5] per row
    np.testing.assert_allclose(values[0], [1.0, 1.5, -0.5])
    assert outputs["clip"]["display"]["pixels"][0] == [255, 255, 0]
    assert outputs["minmax"]["display"]["pixels"][0] == [191, 255, 0]
    assert outputs["signed"]["display"]["pixels"][0] == [212, 255, 85]  # 127.5 ± 127.5·v/1.5
    assert "mid-gray" in outputs["signed"]["display"]["text"]


@pytest.mark.parametrize("body, words", [
    ({"image": [[0.5] * 129] * 2, "kernel": [[1]]}, "at most 128"),
    ({"image": [[0.5] * 4] * 4, "kernel": [[1] * 8]}, "at most 7"),
    ({"image": [[0.5] * 4] * 4, "kernel": [[1, 1, 1]] * 3, "stride": 2}, "needs stride 1"),
    ({"image": [[0.5] * 2] * 2, "kernel": [[1, 1, 1]] * 3, "padding": "valid"},
     "must be at least 1"),
    ({"image": [[0.5] * 2] * 2, "kernel": [[1, 1, 1]] * 3, "padding_mode": "reflect",
      "padding": 3}, "reflect padding"),
    ({"image": [[0.5] * 4] * 4, "kernel": [[1]], "mapping": "rainbow"}, "mapping"),
])
def test_image_errors(client, body, words):
    response = post(client, "/api/image", body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


# ------------------------------------------------------------------ static files
def test_page_and_static_files_are_served(client):
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    csp = index.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    html = index.text
    for name in sorted(p.name for p in STATIC_DIR.iterdir()):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.content == (STATIC_DIR / name).read_bytes()
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/sample.png").headers["content-type"] == "image/png"
    for referenced in ("/static/app.js", "/static/style.css", "/static/favicon.svg"):
        assert referenced in html


def test_no_asset_from_outside_the_package():
    for path in STATIC_DIR.iterdir():
        if path.suffix in (".html", ".js", ".css", ".svg"):
            text = path.read_text()
            for outside in ("http://", "https://", "//cdn", "@import", "fonts.googleapis"):
                if outside == "http://" and path.suffix == ".svg":
                    text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
                assert outside not in text, (path.name, outside)


def test_static_files_ship_with_the_package():
    import tomllib
    from fnmatch import fnmatch
    project = tomllib.loads((STATIC_DIR.parents[3] / "pyproject.toml").read_text())
    patterns = project["tool"]["setuptools"]["package-data"]["convgrad"]
    for path in STATIC_DIR.iterdir():
        relative = path.relative_to(STATIC_DIR.parents[1]).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), relative


TRAVERSALS = ["/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/app.py",
              "/static/%2e%2e%2fapp.py", "/static/..%5capp.py", "/static/%252e%252e%252fapp.py",
              "/static/....//app.py", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
              "/static/index.html%00.png", "/static/.", "/static/..", "/static/",
              "/static/__init__.py", "/static/../../web/app.py", "/..%2f..%2fpyproject.toml"]


@pytest.mark.parametrize("path", [p for p in TRAVERSALS if p not in ("/static/.", "/static/..")])
def test_path_traversal_is_refused(client, path):
    response = client.get(path)  # (httpx resolves a bare /static/.. to /; the raw test sends it)
    assert response.status_code == 404, (path, response.status_code)
    assert b"create_app" not in response.content and b"root:" not in response.content


def test_path_traversal_over_real_http():
    """The same paths sent byte for byte to uvicorn (no client normalising ``..``)."""
    with running_server() as url:
        assert raw_get(url, "/static/app.js")[0] == 200
        for path in TRAVERSALS:
            status, body = raw_get(url, path)
            assert status in (400, 404), (path, status)
            assert b"create_app" not in body and b"import" not in body


# ------------------------------------------------------------------ the command
def test_explore_serves_the_page(tmp_path):
    """`convgrad explore --port N` in its own process: the page and the API answer."""
    import subprocess
    import sys
    import time
    import urllib.request

    from browser import free_socket
    probe = free_socket()
    port = probe.getsockname()[1]
    probe.close()
    process = subprocess.Popen([sys.executable, "-m", "convgrad.cli", "explore", "--port",
                                str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    html = page.read().decode()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"explore did not serve: {process.stderr.read()}")
                time.sleep(0.1)
        assert "convgrad explore" in html and "/static/app.js" in html
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/conv2d", data=json.dumps(GOOD).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert json.loads(answer.read())["trace"]["output"][0][1] == [2.0, 2.0, 2.0]
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert f"serving on http://127.0.0.1:{port}/" in err


def test_explore_refuses_a_port_in_use(capsys):
    from browser import free_socket
    busy = free_socket()
    try:
        status = cli_main(["explore", "--port", str(busy.getsockname()[1])])
    finally:
        busy.close()
    assert status == 2
    err = capsys.readouterr().err
    assert "is in use" in err and "--port" in err and "Traceback" not in err


@pytest.mark.parametrize("args, words", [
    (["--port", "70000"], "--port must be from 1 to 65535"),
    (["--host", "no-such-host.invalid"], "--host"),
])
def test_explore_argument_errors(capsys, args, words):
    assert cli_main(["explore", *args]) == 2
    assert words in capsys.readouterr().err
