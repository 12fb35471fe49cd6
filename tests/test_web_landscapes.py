"""The explorer's landscape API: saved landscapes read only from the folder given on the
command line, by a name from its list, as untrusted files, within bounds, as strict JSON."""
from __future__ import annotations

import io
import json
import os
import shutil
import zipfile

import httpx
import numpy as np
import pytest
import schemathesis
from fastapi.testclient import TestClient

from browser import raw_get, running_server
from convgrad.cli import main as cli_main
from convgrad.study.landscape_store import DATA_FILE, META_FILE, read_landscape
from convgrad.web.app import create_app
from convgrad.web.landscapes import MAX_FILE_BYTES, MAX_RESOLUTION
from landscape_support import NAMES, make_landscapes


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return make_landscapes(tmp_path_factory.mktemp("web-landscapes"))


@pytest.fixture
def folder(saved, tmp_path):
    """A copy of the saved landscapes, free to damage."""
    copy = tmp_path / "landscapes"
    shutil.copytree(saved, copy)
    return copy


def client_for(folder):
    return TestClient(create_app(landscapes=folder))


def test_the_list_and_a_landscape_are_the_saved_numbers(saved):
    client = client_for(saved)
    listing = client.get("/api/landscapes").json()
    assert listing["configured"] and not listing["truncated"]
    assert [entry["name"] for entry in listing["landscapes"]] == list(NAMES)
    for name in NAMES:
        meta, arrays = read_landscape(saved / name)
        answer = client.get(f"/api/landscapes/{name}").json()
        assert answer["model"] == name and answer["resolution"] == 9
        assert answer["centre"] == meta["centre"]
        assert answer["hessian"]["lambda_max"] == meta["hessian"]["lambda_max"]
        assert answer["hessian"]["ratio"] == meta["hessian"]["ratio"]
        np.testing.assert_array_equal(np.array(answer["loss"]), arrays["loss"])   # rows: y
        np.testing.assert_array_equal(np.array(answer["accuracy"]), arrays["accuracy"])
        assert answer["x"] == list(arrays["x"]) and answer["cells_done"] == 81
        assert answer["line"]["t"] == list(arrays["line_t"])
        assert answer["direction"]["loss"] == list(arrays["direction_loss"])


def test_without_a_folder_the_list_is_empty_and_says_so():
    client = TestClient(create_app())
    assert client.get("/api/landscapes").json() == {"configured": False, "landscapes": [],
                                                    "truncated": False}
    refused = client.get("/api/landscapes/plain1d")
    assert refused.status_code == 404 and "--landscapes DIR" in refused.json()["detail"]


@pytest.mark.parametrize("raw", ["/api/landscapes/..", "/api/landscapes/%2e%2e",
                                 "/api/landscapes/..%2fruns", "/api/landscapes/%2fetc",
                                 "/api/landscapes/plain1d%2f..%2f..%2fresnet1d",
                                 "/api/landscapes/.hidden", "/api/landscapes/plain1d%00"])
def test_a_name_is_looked_up_never_joined_onto_a_path(saved, raw):
    with running_server(landscapes=saved) as url:
        status, body = raw_get(url, raw)
    assert status == 404, body
    assert b"plain1d" not in body.split(b'"detail"')[0]      # nothing served but the error


def test_what_is_not_a_plain_landscape_folder_is_not_listed(folder, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(folder / "plain1d", outside)
    os.symlink(outside, folder / "linked")                   # a link out of the folder
    (folder / "notes").mkdir()                               # not a landscape
    shutil.copytree(folder / "plain1d", folder / "with space")   # not a plain name
    (folder / "plain1d.txt").write_text("a file")
    client = client_for(folder)
    names = [entry["name"] for entry in client.get("/api/landscapes").json()["landscapes"]]
    assert names == list(NAMES)
    for name in ("linked", "notes", "with space", "plain1d.txt"):
        assert client.get(f"/api/landscapes/{name}").status_code == 404


def _write_npz(path, arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def _damage(folder, how):
    data = folder / "plain1d" / DATA_FILE
    if how == "pickle":
        _, arrays = read_landscape(folder / "plain1d")
        arrays["loss"] = np.array([[{"evil": 1}]], dtype=object)
        _write_npz(data, arrays)
    elif how == "bomb":
        # a zip member that unpacks to far more than the bound from a few kilobytes
        with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("loss.npy", b"\0" * (MAX_FILE_BYTES + 1))
    elif how == "fifo":
        data.unlink()
        os.mkfifo(data)
    elif how == "truncated":
        data.write_bytes(data.read_bytes()[:300])
    elif how == "huge":
        _, arrays = read_landscape(folder / "plain1d")
        n = MAX_RESOLUTION + 1
        arrays.update(x=np.linspace(-1, 1, n), y=np.linspace(-1, 1, n),
                      loss=np.ones((n, n)), accuracy=np.ones((n, n)),
                      done=np.ones((n, n), bool))
        _write_npz(data, arrays)
    elif how == "ragged":
        _, arrays = read_landscape(folder / "plain1d")
        arrays["loss"] = arrays["loss"][:, :-1]
        _write_npz(data, arrays)
    elif how == "meta":
        (folder / "plain1d" / META_FILE).write_text('{"format": "something else"}')


@pytest.mark.parametrize("how, words", [
    ("pickle", "cannot be read"), ("bomb", "unpack to"), ("fifo", "FIFO"),
    ("truncated", "cannot be read"), ("huge", "more than the explorer draws"),
    ("ragged", "does not fit the others"), ("meta", "not a convgrad landscape"),
])
def test_a_damaged_or_hostile_landscape_is_a_404_never_a_crash(folder, how, words):
    _damage(folder, how)
    client = client_for(folder)
    answer = client.get("/api/landscapes/plain1d")
    assert answer.status_code == 404, answer.text
    assert words in answer.json()["detail"]
    assert str(folder) not in answer.json()["detail"]         # no server path in an answer
    assert client.get("/api/landscapes/resnet1d").status_code == 200   # the others served


def test_cells_not_computed_and_non_finite_values_are_null(folder):
    meta, arrays = read_landscape(folder / "resnet1d")
    arrays["done"][0, :3] = False
    arrays["loss"][1, 1] = np.inf
    arrays["direction_loss"][0] = np.nan
    _write_npz(folder / "resnet1d" / DATA_FILE, arrays)
    text = client_for(folder).get("/api/landscapes/resnet1d").text
    answer = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert answer["loss"][0][:3] == [None] * 3 and answer["accuracy"][0][:3] == [None] * 3
    assert answer["loss"][1][1] is None and answer["cells_done"] == 78
    assert answer["direction"]["loss"][0] is None


def test_the_answers_are_as_documented(saved):
    with running_server(landscapes=saved) as url:
        api = schemathesis.openapi.from_url(f"{url}/openapi.json")
        with httpx.Client(base_url=url) as client:
            for path, response, status in [
                ("/api/landscapes", client.get("/api/landscapes"), 200),
                ("/api/landscapes/{name}", client.get("/api/landscapes/resnet1d"), 200),
                ("/api/landscapes/{name}", client.get("/api/landscapes/nothing"), 404),
                ("/api/landscapes/{name}", client.post("/api/landscapes/resnet1d"), 405),
            ]:
                assert response.status_code == status, response.text
                api[path]["GET"].validate_response(response)


def test_explore_refuses_a_landscapes_folder_that_is_not_one(tmp_path, capsys):
    assert cli_main(["explore", "--landscapes", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "--landscapes" in err and "not a folder" in err and len(err.splitlines()) == 1
