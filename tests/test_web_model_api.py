"""The model view's API (``/api/model/...``) against a real server with a runs folder: the
answers are ``convgrad.inspect``'s numbers on the run's own model, and hostile or malformed
requests — paths instead of names (``..``, absolute paths, symbolic links out of the runs
folder), huge indices, wrong types, damaged runs — get documented 4xx answers, never a 5xx.
"""
import json
import os
import shutil

import httpx
import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convgrad as cg
from browser import running_server
from convgrad.inspect import examine, model_layers
from convgrad.web import schemas
from convgrad.web.runs import RunFolders
from model_runs import data_environment, run_dir, runs_folder


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A runs folder: four good runs (one nested), and the hostile and damaged ones."""
    root = tmp_path_factory.mktemp("served") / "runs"
    root.mkdir()
    for name in ("cnn", "lenet", "resnet1d", "plain1d"):
        shutil.copytree(run_dir(name), root / name)
    shutil.copytree(run_dir("cnn"), root / "compare-1" / "cnn")
    outside = runs_folder()                      # real runs, outside the served folder
    (root / "outside-link").symlink_to(outside / "cnn", target_is_directory=True)
    (root / "linked-checkpoints").mkdir()
    (root / "linked-checkpoints" / "checkpoints").symlink_to(outside / "cnn" / "checkpoints")
    linked_model = root / "linked-model"
    shutil.copytree(run_dir("cnn"), linked_model)
    model_file = linked_model / "checkpoints" / "step-0000060" / "model.safetensors"
    model_file.unlink()
    model_file.symlink_to(outside / "cnn" / "checkpoints" / "step-0000060" / "model.safetensors")
    corrupt = root / "corrupt"
    shutil.copytree(run_dir("cnn"), corrupt)
    damaged = corrupt / "checkpoints" / "step-0000060" / "model.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:100])
    (root / "empty" / "checkpoints").mkdir(parents=True)
    (root / "not-a-run").mkdir()
    return root


@pytest.fixture(scope="module")
def server(folder):
    with data_environment(), running_server(runs=RunFolders(folder)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def api(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


def post(client, api, route, body, status=200):
    """POST ``body``; the answer has ``status`` and is what /openapi.json documents."""
    answer = client.post(f"/api/model/{route}", json=body)
    assert answer.status_code == status, answer.text
    api[f"/api/model/{route}"]["POST"].validate_response(answer)
    return answer.json()


# ------------------------------------------------------------------ what is listed
def test_the_listing_has_the_runs_inside_the_folder_and_nothing_else(client):
    names = [run["name"] for run in client.get("/api/model/runs").json()["runs"]]
    assert names == ["cnn", "compare-1/cnn", "corrupt", "empty", "lenet", "linked-checkpoints",
                     "linked-model", "plain1d", "resnet1d"]
    # the link that leads out of the folder is not listed: its run is not there to ask for


def test_run_info_is_the_models_summary_checkpoints_and_curves(client, api):
    info = post(client, api, "run", {"run": "resnet1d"})
    loaded = cg.load_run(run_dir("resnet1d"), data=False)
    assert [layer["name"] for layer in info["layers"]] == \
        [layer.name for layer in model_layers(loaded.model, (1, 40))]
    assert sum(layer["skip"] for layer in info["layers"]) == 6
    assert info["total_params"] == 58_458 and info["drawable"] == "signal"
    assert [c["step"] for c in info["checkpoints"]] == [3, 6]
    steps = [row[0] for row in info["metrics"]["rows"]]
    assert steps == [0, 3, 6] and info["metrics"]["columns"][0] == "step"
    lenet = post(client, api, "run", {"run": "lenet"})
    assert lenet["drawable"] == "image" and lenet["input_shape"] == [1, 8, 8]
    plain = post(client, api, "run", {"run": "plain1d"})
    assert not any(layer["skip"] for layer in plain["layers"])


# ------------------------------------------------------------------ the numbers
def test_an_example_layer_window_and_weight_are_inspects_numbers(client, api):
    loaded = cg.load_run(run_dir("cnn"), checkpoint=40)
    seen = examine(loaded.model, loaded.data.test_x[11], int(loaded.data.test_y[11]))
    source = {"run": "cnn", "checkpoint": "40", "example": 11}
    example = post(client, api, "example", source)
    assert example["probabilities"] == [float(p) for p in seen.probabilities]
    assert (example["label"], example["predicted"], example["step"]) == \
        (seen.label, seen.predicted, 40)
    layer = post(client, api, "layer", {**source, "layer": "conv2"})
    np.testing.assert_array_equal(np.array(layer["output"]),
                                  seen.recording.activations["conv2"][0])
    np.testing.assert_array_equal(np.array(layer["conv"]["weight"]),
                                  loaded.model.conv2.weight.detach().numpy())
    np.testing.assert_array_equal(np.array(layer["conv"]["grad_weight"]),
                                  seen.weight_grads["conv2.weight"])
    window = post(client, api, "window", {**source, "layer": "conv2", "index": [4, 6]})
    assert window["agrees"] and len(window["window"]["terms"]) == 25 * 3
    assert window["engine"] == float(seen.recording.activations["conv2"][0, 4, 6])
    products = sum(term["product"] for term in window["window"]["terms"])
    assert products + window["window"]["bias"] == pytest.approx(window["engine"], abs=1e-5)
    parts = post(client, api, "contributions", {**source, "layer": "conv2", "weight": [4, 7, 2]})
    assert parts["agrees"]
    assert parts["engine"] == float(seen.weight_grads["conv2.weight"][4, 7, 2])
    assert sum(parts["products"]) == pytest.approx(parts["engine"], abs=1e-6)
    assert len(parts["products"]) == 10                       # conv2's 10 output positions


def test_requests_answered_at_once_on_several_threads_get_their_own_numbers(server):
    """The server answers on a pool of threads, and one model serves them all: its hooks
    (and the caches) are taken by one request at a time, so no answer mixes two examples."""
    from concurrent.futures import ThreadPoolExecutor

    loaded = cg.load_run(run_dir("resnet1d"))
    examples = list(range(200, 216))               # not examined before: no cached answers

    def ask(example):
        with httpx.Client(base_url=server, timeout=120) as own:
            return own.post("/api/model/layer", json={"run": "resnet1d", "example": example,
                                                      "layer": "layer2.0.conv1"})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, examples))
    for example, answer in zip(examples, answers):
        assert answer.status_code == 200, answer.text
        seen = examine(loaded.model, loaded.data.test_x[example],
                       int(loaded.data.test_y[example]))
        np.testing.assert_array_equal(np.array(answer.json()["output"]),
                                      seen.recording.activations["layer2.0.conv1"][0])
        np.testing.assert_array_equal(np.array(answer.json()["grad_output"]),
                                      seen.recording.gradients["layer2.0.conv1"][0])


def test_a_drawn_input_and_the_examples_of_a_class_or_misclassified(client, api):
    drawn = np.linspace(-1, 1, 64).round(3).tolist()
    answer = post(client, api, "example", {"run": "lenet", "input": drawn, "label": 3})
    loaded = cg.load_run(run_dir("lenet"))
    seen = examine(loaded.model, np.array(drawn, dtype=np.float32).reshape(1, 8, 8), 3)
    assert answer["probabilities"] == [float(p) for p in seen.probabilities]
    assert (answer["source"], answer["label"], answer["target"]) == ("a drawn input", 3, 3)
    threes = post(client, api, "examples", {"run": "lenet", "label": 3})
    assert threes["matched"] == int((loaded.data.test_y == 3).sum())
    assert all(e["label"] == 3 for e in threes["examples"])
    wrong = post(client, api, "examples", {"run": "cnn", "misclassified": True})
    assert wrong["matched"] > 0 and all(e["label"] != e["predicted"] for e in wrong["examples"])
    for e in wrong["examples"][:3]:
        shown = post(client, api, "example", {"run": "cnn", "example": e["index"]})
        assert shown["predicted"] == e["predicted"]


def test_lenet_on_28x28_digits_and_a_cifar_resnet(client, api, folder):
    """Every kind of registry model: LeNet-5 at 28×28 (a drawn digit of 784 values) and
    ResNet-20 on colour images (nothing to draw; 64 × 64 filters of 3×3)."""
    for name in ("lenet-mnist", "resnet20"):
        if not (folder / name).exists():
            shutil.copytree(run_dir(name), folder / name)
    lenet = post(client, api, "run", {"run": "lenet-mnist"})
    assert (lenet["drawable"], lenet["input_shape"]) == ("image", [1, 28, 28])
    drawn = post(client, api, "example", {"run": "lenet-mnist", "input": [0.25] * 784})
    assert drawn["source"] == "a drawn input" and len(drawn["input"][0]) == 28
    resnet = post(client, api, "run", {"run": "resnet20"})
    assert resnet["drawable"] is None and resnet["total_params"] == 269_722
    assert sum(layer["skip"] for layer in resnet["layers"]) == 9
    source = {"run": "resnet20", "example": 2, "layer": "layer3.2.conv2"}
    layer = post(client, api, "layer", source)
    assert layer["output_shape"] == [64, 8, 8] and layer["conv"]["weight_shape"] == [64, 64, 3, 3]
    window = post(client, api, "window", {**source, "index": [10, 3, 7]})
    assert window["agrees"] and len(window["window"]["terms"]) == 64 * 9
    loaded = cg.load_run(run_dir("resnet20"))
    seen = examine(loaded.model, loaded.data.test_x[2], int(loaded.data.test_y[2]))
    grad = seen.weight_grads["layer3.2.conv2.weight"]
    strongest = [int(i) for i in np.unravel_index(np.argmax(np.abs(grad)), grad.shape)]
    parts = post(client, api, "contributions", {**source, "weight": strongest})
    assert parts["agrees"] and parts["engine"] == float(grad[tuple(strongest)]) != 0
    assert np.array(parts["products"]).shape == (8, 8)


def test_a_depth_family_run_whose_pooling_runs_twice(client, api, folder):
    """reslenet-6 (the depth study's LeNet stack) pools after each stage with one module:
    two layers, pool and pool#2, each its own call's output and gradient."""
    if not (folder / "reslenet").exists():
        shutil.copytree(run_dir("reslenet"), folder / "reslenet")
    info = post(client, api, "run", {"run": "reslenet"})
    pools = [(layer["name"], layer["output_shape"]) for layer in info["layers"]
             if layer["name"].startswith("pool")]
    assert pools == [("pool", [16, 4, 4]), ("pool#2", [32, 2, 2])]
    assert sum(layer["skip"] for layer in info["layers"]) == 2
    loaded = cg.load_run(run_dir("reslenet"))
    seen = examine(loaded.model, loaded.data.test_x[4], int(loaded.data.test_y[4]))
    for name in ("pool", "pool#2"):
        layer = post(client, api, "layer", {"run": "reslenet", "example": 4, "layer": name})
        assert layer["type"] == "MaxPool2d" and layer["conv"] is None
        np.testing.assert_array_equal(np.array(layer["output"]),
                                      seen.recording.activations[name][0])
        np.testing.assert_array_equal(np.array(layer["grad_output"]),
                                      seen.recording.gradients[name][0])


# ------------------------------------------------------------------ hostile requests
OUTSIDE = "/etc"


@pytest.mark.parametrize("name", [
    "../cnn", "cnn/..", "cnn/../cnn", "./cnn", "/cnn", "cnn/", "cnn/checkpoints",
    "outside-link", "compare-1/../cnn", "not-a-run", OUTSIDE, "\x00cnn", "cnn\x00", "CNN",
    "%2e%2e/cnn", "..", ".", "compare-1",
])
def test_a_run_is_a_name_from_the_listing_never_a_path(client, api, name):
    refused = post(client, api, "example", {"run": name, "example": 0}, status=422)
    assert refused["kind"] == "invalid" and refused["errors"][0]["field"] == "run"


def test_an_absolute_path_to_a_real_run_is_refused_too(client, api, folder):
    for path in (str(folder / "cnn"), os.fspath(run_dir("cnn"))):
        refused = post(client, api, "run", {"run": path}, status=422)
        assert "no run named" in refused["detail"]


@pytest.mark.parametrize("name, fragment", [
    ("linked-checkpoints", "leads outside the folder given to convgrad explore"),
    ("linked-model", "leads outside the folder given to convgrad explore"),
    ("corrupt", "model.safetensors"),
    ("empty", "no last checkpoint yet"),
])
def test_a_listed_run_that_cannot_be_shown_says_why(client, api, name, fragment):
    refused = post(client, api, "example", {"run": name, "example": 0}, status=422)
    assert refused["kind"] == "unavailable" and fragment in refused["detail"]


@pytest.mark.parametrize("route, body, kind, field", [
    ("example", {"run": "cnn", "example": 10_000_000}, "impossible", "example"),
    ("example", {"run": "cnn", "example": 10_000_001}, "invalid", "example"),
    ("example", {"run": "cnn", "example": -1}, "invalid", "example"),
    ("example", {"run": "cnn", "example": "3"}, "invalid", "example"),
    ("example", {"run": "cnn", "example": 2.5}, "invalid", "example"),
    ("example", {"run": "cnn", "example": True}, "invalid", "example"),
    ("example", {"run": "cnn"}, "invalid", "body"),
    ("example", {"run": "cnn", "example": 1, "input": [0.0] * 40}, "invalid", "body"),
    ("example", {"run": "cnn", "input": [0.0] * 41}, "impossible", "input"),
    ("example", {"run": "cnn", "input": [0.0] * 3073}, "invalid", "input"),
    ("example", {"run": "cnn", "input": ["1"] * 40}, "invalid", "input[0]"),
    ("example", {"run": "cnn", "input": [1e7] * 40}, "invalid", "input[0]"),
    ("example", {"run": "cnn", "input": [0.0] * 40, "label": 10}, "impossible", "label"),
    ("example", {"run": "cnn", "example": 1, "checkpoint": "../last"}, "invalid", "checkpoint"),
    ("example", {"run": "cnn", "example": 1, "checkpoint": "999"}, "unavailable", "checkpoint"),
    ("example", {"run": "cnn", "example": 1, "extra": 1}, "invalid", "extra"),
    ("example", {"run": ["cnn"], "example": 1}, "invalid", "run"),
    ("layer", {"run": "cnn", "example": 1, "layer": "conv2.weight"}, "impossible", "layer"),
    ("layer", {"run": "cnn", "example": 1, "layer": ""}, "invalid", "layer"),
    ("window", {"run": "cnn", "example": 1, "layer": "linear", "index": [0, 0]}, "impossible",
     "layer"),
    ("window", {"run": "cnn", "example": 1, "layer": "conv2", "index": [25, 0]}, "impossible",
     "index"),
    ("window", {"run": "cnn", "example": 1, "layer": "conv2", "index": [0, 0, 0]}, "impossible",
     "index"),
    ("window", {"run": "cnn", "example": 1, "layer": "conv2", "index": [0, 100_001]}, "invalid",
     "index[1]"),
    ("window", {"run": "cnn", "example": 1, "layer": "conv2", "index": [-1, 0]}, "invalid",
     "index[0]"),
    ("contributions", {"run": "cnn", "example": 1, "layer": "conv1", "weight": [0, 1, 0]},
     "impossible", "weight"),
    ("contributions", {"run": "cnn", "example": 1, "layer": "conv1", "weight": [0, 0]},
     "invalid", "weight"),
    ("examples", {"run": "cnn", "label": 10}, "impossible", "label"),
    ("examples", {"run": "cnn", "misclassified": "yes"}, "invalid", "misclassified"),
])
def test_malformed_and_impossible_requests_get_a_documented_422(client, api, route, body, kind,
                                                               field):
    refused = post(client, api, route, body, status=422)
    assert refused["kind"] == kind, refused
    assert refused["errors"][0]["field"] == field, refused


def test_bodies_too_big_too_deep_or_not_json_never_reach_the_model(client):
    big = b'{"run": "cnn", "input": [' + b"0," * schemas.MAX_BODY_BYTES + b"0]}"
    headers = {"content-type": "application/json"}
    assert client.post("/api/model/example", content=big, headers=headers).status_code == 413
    deep = b'{"run": "cnn", "input": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert client.post("/api/model/example", content=deep, headers=headers).status_code == 400
    assert client.post("/api/model/example", content=b'{"run": "cnn"',
                       headers=headers).status_code == 422
    assert client.post("/api/model/example", content=b"{}").status_code == 415
    assert client.get("/api/model/example").status_code == 405


# ------------------------------------------------------------------ a fuzz with real names
NAMES = ["cnn", "lenet", "resnet1d", "compare-1/cnn", "corrupt", "empty", "../cnn", "x"]
LAYERS = ["conv1", "conv2", "linear", "features.conv1", "layer1.0", "layer1.0.conv1",
          "layer3.1.bn2", "fc", "nope"]
index_lists = st.lists(st.integers(-2, 50), min_size=0, max_size=5)
BODIES = st.fixed_dictionaries({"run": st.sampled_from(NAMES)}, optional={
    "checkpoint": st.sampled_from(["last", "best", "20", "40", "3", "6", "7", "x"]),
    "example": st.one_of(st.integers(-3, 1100), st.sampled_from([10**7, 10**9]), st.text()),
    "input": st.lists(st.floats(-5, 5), min_size=0, max_size=70),
    "label": st.integers(-1, 12),
    "layer": st.sampled_from(LAYERS),
    "index": index_lists,
    "weight": index_lists,
    "misclassified": st.booleans(),
})


@pytest.mark.parametrize("route", ["run", "examples", "example", "layer", "window",
                                   "contributions"])
def test_fuzz_with_the_runs_names_finds_no_server_error(client, api, route):
    @given(body=BODIES)
    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(body):
        answer = client.post(f"/api/model/{route}", json=body)
        assert answer.status_code in (200, 422), answer.text
        api[f"/api/model/{route}"]["POST"].validate_response(answer)
        json.dumps(answer.json(), allow_nan=False)

    fuzz()


def test_explore_refuses_run_folders_that_are_not_there_in_one_line(tmp_path):
    from test_train_support import assert_one_line_error, convgrad

    (tmp_path / "plain").mkdir()
    assert_one_line_error(convgrad("explore", "--run", "plain", cwd=tmp_path),
                          "--run plain: not a run folder (no checkpoints/ folder)")
    assert_one_line_error(convgrad("explore", "--runs", "nowhere", cwd=tmp_path),
                          "--runs nowhere: no such folder")
