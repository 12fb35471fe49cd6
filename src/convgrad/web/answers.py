"""What the explorer's API answers, as models: the bodies of 200 answers and of every error.

They document ``/openapi.json`` (FastAPI turns them into JSON schemas) and are what the tests
hold the server to: a fuzz of the API from its own schema finds no answer that breaks them.
The routes return plain JSON (``api.StrictJSONResponse``); these models describe it.

Errors are ``{"detail": "<one line>"}``; a 422 adds ``errors`` (each problem with the field it
is about, for a form to mark) and ``kind``: ``invalid`` (the request breaks a type or a bound
of the request model, or is not JSON), ``impossible`` (a setting PyTorch refuses, e.g. groups
that do not divide the channels: the message is ``convgrad.shapes``'s), ``too_large`` (a
possible setting whose trace is more than this page draws: the explorer's own size bound).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from . import schemas


class ErrorBody(BaseModel):
    detail: str = Field(description="one line naming what is wrong")


class FieldProblem(BaseModel):
    field: str = Field(description="the field, e.g. 'padding' or 'input[0][2]'; 'body' for the "
                                   "whole request")
    message: str


class UnprocessableBody(ErrorBody):
    errors: list[FieldProblem] = Field(description="each problem (at most 20), with its field")
    kind: Literal["invalid", "impossible", "too_large"]


class TraceAnswer(BaseModel):
    op: str = Field(description="the operation, PyTorch's name")
    trace: dict[str, Any] = Field(description="Trace.to_dict() (see convgrad.explain.model): "
                                              "every window, product and gradient contribution")
    counts: dict[str, Any] = Field(description="the layer's parameters beside a dense layer's")
    snippet: str = Field(description="PyTorch code that gives the same numbers")
    engine: dict[str, Any] = Field(description="convgrad.functional run on the same values, and "
                                               "whether it agrees with the trace")


Limits = create_model("Limits", **{name.lower(): (type(getattr(schemas, name)), ...)
                                   for name in schemas.LIMIT_NAMES})


class ImageSample(BaseModel):
    name: str
    height: int
    width: int
    pixels: list[list[float]] = Field(description="gray levels in [0, 1], row by row")
    scale: str


class Preset(BaseModel):
    name: str
    label: str
    kernel: list[list[float]]
    note: str


class Presets(BaseModel):
    presets: list[Preset]


class Display(BaseModel):
    mapping: Literal["clip", "minmax", "signed"] = Field(description="the mapping used")
    requested: Literal["auto", "clip", "minmax", "signed"]
    text: str
    min: float
    max: float
    pixels: list[list[int]] = Field(description="gray levels 0–255 of the output")


class ImageAnswer(BaseModel):
    output: list[list[float]]
    output_shape: list[int]
    axes: list[dict[str, Any]] = Field(description="the output size along H and W, derived")
    display: Display
    input_display: list[list[int]]
    kernel_sum: float
    summary: str
    engine: dict[str, Any]


def error_answer(description: str, model=ErrorBody) -> dict:
    return {"model": model, "description": description}


_error = error_answer


# the answers every route may give besides its 200, as sent (see guard and api)
COMMON_ERRORS = {
    400: _error("a request the server cannot read: a Host header this server does not answer "
                "to (it answers only its own loopback address when it listens on one), a body "
                f"that is not UTF-8 JSON or nested deeper than {schemas.MAX_JSON_DEPTH} levels"),
    405: _error("any other method at this path; the Allow header lists the methods it serves"),
    413: _error(f"a body over {schemas.MAX_BODY_BYTES} bytes"),
}
JSON_POST_ERRORS = {
    **COMMON_ERRORS,
    415: _error("a body sent without Content-Type: application/json"),
    422: _error("a request the model refuses ('invalid'), a setting PyTorch refuses "
                "('impossible') or one too large for this page to show ('too_large'); "
                "errors names the fields", UnprocessableBody),
}


# ------------------------------------------------------------------ the landscape view
class CentreValues(BaseModel):
    loss: float | None
    accuracy: float | None


class HessianValues(BaseModel):
    lambda_max: float | None
    lambda_min: float | None
    ratio: float | None = Field(description="|λ_min / λ_max|")
    residual_max: float | None
    residual_min: float | None


class LandscapeSummary(BaseModel):
    name: str = Field(description="the landscape's folder name: how to ask for it")
    model: str | None
    dataset: str | None
    parameters: int | None
    checkpoint_step: int | None
    resolution: int | None
    settings: dict[str, Any] = Field(description="what `convgrad landscape` computed")
    centre: CentreValues | None = Field(description="loss and accuracy at the trained weights")
    hessian: HessianValues | None


class LandscapeList(BaseModel):
    configured: bool = Field(description="whether the explorer was given a landscapes folder")
    landscapes: list[LandscapeSummary]
    truncated: bool


class Profile(BaseModel):
    loss: list[float | None]
    accuracy: list[float | None]


class DirectionProfile(Profile):
    alpha: list[float | None]


class LineProfile(Profile):
    t: list[float | None] = Field(description="0: the initial weights, 1: the trained ones")


class LandscapeAnswer(LandscapeSummary):
    x: list[float | None]
    y: list[float | None]
    loss: list[list[float | None]] = Field(description="loss[i][j] at (x[j], y[i]); null: "
                                                       "not computed or not finite")
    accuracy: list[list[float | None]]
    cells_done: int
    direction: DirectionProfile
    line: LineProfile
