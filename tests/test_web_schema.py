"""The explorer publishes its API at /openapi.json, and the description is true: a real uvicorn
server on loopback is fuzzed from it by schemathesis (hypothesis under the hood, bounded in
examples and time) with 0 server errors and 0 answers that break the documented schemas, and
every documented error is sent as documented.  Also: the Host check against DNS rebinding, and
405 for a method a path does not serve."""
import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from browser import raw_get, running_server
from convgrad.web import schemas
from convgrad.web.app import create_app

DOCUMENT = create_app().openapi()
OPERATIONS = [(path, method.upper()) for path, item in DOCUMENT["paths"].items()
              for method in item]
NOTES_X = [[[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]]]
# a request each POST route answers 200
VALID = {
    "/api/conv1d": {"input": [[1, 2, 3, 4]], "weight": [[[1, 0, -1]]], "padding": 1},
    "/api/conv2d": {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]], "bias": [0.5]},
    "/api/conv_transpose1d": {"input": [[1, 2, 3]], "weight": [[[1, 1]]], "stride": 2},
    "/api/conv_transpose2d": {"input": NOTES_X, "weight": [[[[1, 1], [1, 1]]]], "stride": 2},
    "/api/max_pool1d": {"input": [[1, 2, 3, 4]], "kernel_size": 2},
    "/api/max_pool2d": {"input": NOTES_X, "kernel_size": 2, "stride": [1, 1]},
    "/api/avg_pool1d": {"input": [[1, 2, 3, 4]], "kernel_size": 3, "padding": 1},
    "/api/avg_pool2d": {"input": NOTES_X, "kernel_size": 2, "divisor_override": 3},
    "/api/image": {"image": [[0.0, 0.5, 1.0]] * 3, "kernel": [[1.0]]},
}


@pytest.fixture(scope="module")
def server():
    with running_server() as url:
        yield url


@pytest.fixture(scope="module")
def api(server):
    """The schema as the running server publishes it."""
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


# ------------------------------------------------------------------ the document
def test_openapi_is_published_and_the_docs_pages_are_off(server):
    with httpx.Client(base_url=server) as client:
        published = client.get("/openapi.json")
        assert published.status_code == 200
        assert published.json() == json.loads(json.dumps(DOCUMENT))
        # FastAPI's docs pages load their scripts from a CDN: the explorer has none
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            assert client.get(path).status_code == 404
    assert {path for path, _ in OPERATIONS} == set(VALID) | {
        "/api/limits", "/api/image/sample", "/api/image/presets", "/api/landscapes",
        "/api/landscapes/{name}"}


def _properties(name: str) -> dict:
    return DOCUMENT["components"]["schemas"][name]["properties"]


def test_every_field_has_a_type():
    # a per-axis setting is an integer in its bounds, a list of 1 or dims of them, or a word
    kernel_size = _properties("MaxPool2dRequest")["kernel_size"]
    integer = {"type": "integer", "minimum": 1, "maximum": schemas.MAX_KERNEL}
    assert kernel_size["anyOf"][0] == integer
    assert kernel_size["anyOf"][1] == {"type": "array", "items": integer, "minItems": 1,
                                       "maxItems": 2}
    padding = _properties("Conv1dRequest")["padding"]
    assert padding["anyOf"][1]["maxItems"] == 1
    assert padding["anyOf"][2] == {"type": "string", "enum": ["same", "valid"]}
    assert len(_properties("ConvTranspose2dRequest")["padding"]["anyOf"]) == 2
    # and no field of any request says nothing about its type (Any is `{}`)
    for name, model in DOCUMENT["components"]["schemas"].items():
        for field, schema in model.get("properties", {}).items():
            typed = {key for key in schema if key in ("type", "anyOf", "$ref", "enum")}
            assert typed, f"{name}.{field} has no type: {schema}"


@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_errors_are_documented(path, method):
    responses = DOCUMENT["paths"][path][method.lower()]["responses"]
    expected = {"200", "400", "405", "413"} | ({"415", "422"} if method == "POST" else set()) \
        | ({"404"} if "{name}" in path else set())     # a landscape by a name from the list
    assert set(responses) == expected
    body = "UnprocessableBody" if method == "POST" else None
    for status in expected - {"200"}:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("UnprocessableBody" if status == "422" and body
                                       else "ErrorBody")
    assert "HTTPValidationError" not in DOCUMENT["components"]["schemas"]


# ------------------------------------------------------------------ the answers, as documented
def _sent(api, path, method, response, status):
    """``response`` has ``status``, and its body is what the schema documents for it."""
    assert response.status_code == status, response.text
    api[path][method].validate_response(response)


@pytest.mark.parametrize("path", sorted(VALID))
def test_a_valid_request_gets_the_documented_answer(api, server, path):
    with httpx.Client(base_url=server) as client:
        _sent(api, path, "POST", client.post(path, json=VALID[path]), 200)


@pytest.mark.parametrize("path", ["/api/limits", "/api/image/sample", "/api/image/presets",
                                  "/api/landscapes"])
def test_the_get_routes_give_their_documented_answers(api, server, path):
    with httpx.Client(base_url=server) as client:
        _sent(api, path, "GET", client.get(path), 200)
        # a POST to a GET route is 405, with the methods it serves
        refused = client.post(path, json={})
        _sent(api, path, "GET", refused, 405)
        assert refused.headers["allow"] == "GET"
        assert refused.json()["detail"] == f"POST is not allowed at {path}"


def test_every_error_is_sent_as_documented(api, server):
    conv = "/api/conv2d"
    with httpx.Client(base_url=server) as client:
        gets = client.get(conv)
        _sent(api, conv, "POST", gets, 405)
        assert gets.headers["allow"] == "POST"
        _sent(api, conv, "POST", client.post(conv, content=b"{}"), 415)
        _sent(api, conv, "POST", client.post(conv, content=b"[" * 50 + b"]" * 50,
                                             headers={"content-type": "application/json"}), 400)
        big = b"[" + b"1," * schemas.MAX_BODY_BYTES + b"1]"
        _sent(api, conv, "POST", client.post(conv, content=big,
                                             headers={"content-type": "application/json"}), 413)
        for body, kind, field in [
            ({**VALID[conv], "stride": 0}, "invalid", "stride"),
            ({**VALID[conv], "stride": 2, "padding": "same"}, "impossible", "padding"),
            ({"input": [[[1.0] * 16] * 16] * 4, "weight": [[[[1.0] * 3] * 3] * 4] * 4},
             "too_large", "input"),
        ]:
            refused = client.post(conv, json=body)
            _sent(api, conv, "POST", refused, 422)
            assert refused.json()["kind"] == kind
            assert refused.json()["errors"][0]["field"] == field


def test_the_size_bound_is_said_to_be_the_explorers_not_the_operations(server):
    body = {"input": [[[1.0] * 16] * 16] * 4, "weight": [[[[1.0] * 3] * 3] * 4]}
    with httpx.Client(base_url=server) as client:
        detail = client.post("/api/conv2d", json=body).json()["detail"]
    assert detail.startswith("conv2d: this trace would list 7056 "
                             "products, more than the explorer's size bound of 4096")
    assert "not of the operation" in detail and "Not possible" not in detail


# ------------------------------------------------------------------ Host (DNS rebinding)
@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("[::1]:{port}", 200),
    ("LOCALHOST:{port}", 200),
    ("evil.example:{port}", 400), ("127.0.0.1.evil.example:{port}", 400),
    ("127.0.0.1:{other}", 400), ("127.0.0.1", 400), ("", 400),
])
def test_a_loopback_server_answers_only_requests_addressed_to_it(server, host, status):
    port = int(server.rsplit(":", 1)[1])
    answer, body = raw_get(server, "/api/limits",
                           host=host.format(port=port, other=port + 1))
    assert answer == status, body
    if status == 400:
        assert b"answers only requests addressed to" in body



# ------------------------------------------------------------------ the fuzz
MAX_EXAMPLES = 30  # per operation and mode: about 600 requests in all


# (a GET route takes no input, so there is nothing to break in negative mode)
FUZZED = [(path, method, mode) for path, method in OPERATIONS
          for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
          if method == "POST" or mode == GenerationMode.POSITIVE]


@pytest.mark.parametrize("path, method, mode", FUZZED,
                         ids=[f"{m} {p} {mode.value}" for p, m, mode in FUZZED])
def test_fuzz_from_the_published_schema(api, path, method, mode):
    """Requests drawn from the schema (negative: breaking it) get no 5xx and only documented
    answers: status codes, content types, headers and bodies as /openapi.json says.

    Not checked: that every schema-valid request is accepted (schemathesis's
    positive_data_acceptance): a JSON schema cannot say that rows have the same length or
    that groups divide the channels, and such requests are refused with a documented 422."""
    @given(case=api[path][method].as_strategy(mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        case.call_and_validate(timeout=30,
                               excluded_checks=[schemathesis.checks.positive_data_acceptance])

    fuzz()
