"""The model view's JSON API: a trained run's network, one example through it, one layer,
one feature-map cell's window and one weight's gradient, computed by ``convgrad.inspect``.

    GET  /api/model/runs           the runs this server may show (``--run``, ``--runs``)
    POST /api/model/run            {run}: the network (layers from convgrad.summary, skips),
                                   the kept checkpoints, the training curves
    POST /api/model/examples       {run, checkpoint, label?, misclassified}: test examples
    POST /api/model/example        {run, checkpoint, example | input, label?}: the
                                   prediction and every layer's statistics
    POST /api/model/layer          ... + layer: its feature maps, gradient, filters
    POST /api/model/window         ... + layer, index [o, *t]: the products behind one cell
    POST /api/model/contributions  ... + layer, weight [o, c, *τ]: ∂L/∂w as the sum of its
                                   per-position contributions, beside the engine's gradient

A run is named as ``/api/model/runs`` lists it, never by a path (see ``runs``).  Every
request model bounds every field; errors are the API's (``api``): a 422 says its ``kind``
— ``invalid`` (the request breaks the model, or names a run not listed), ``impossible``
(an example, layer, cell or weight the run's model does not have), ``too_large`` (more than
this page is sent), ``unavailable`` (a listed run that cannot be loaded; the checkpoint's or
data set's own one-line error) — and the field at fault.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, model_validator

from . import schemas
from .answers import COMMON_ERRORS, ErrorBody, FieldProblem
from .api import ApiError, StrictJSONResponse
from .model_engine import MAX_SCAN, ModelView, ModelViewError

router = APIRouter(prefix="/api/model")

MAX_INPUT_VALUES = 3 * 32 * 32     # the largest input of a registry model (CIFAR-10)
MAX_EXAMPLE = 10_000_000
MAX_INDEX = 100_000

RunName = Annotated[str, Field(min_length=1, max_length=300,
                               description="a run's name as GET /api/model/runs lists it")]
Checkpoint = Annotated[str, Field(pattern=r"^(last|best|[0-9]{1,9})$",
                                  description="'last', 'best' or a kept step number")]
Index = Annotated[int, Field(ge=0, le=MAX_INDEX)]


class RunRequest(schemas.Request):
    run: RunName


class ExamplesRequest(RunRequest):
    checkpoint: Checkpoint = "last"
    label: Optional[Annotated[int, Field(ge=0, le=999)]] = Field(
        None, description="only examples of this class")
    misclassified: Annotated[bool, Field(strict=True)] = Field(
        False, description=f"only examples the model gets wrong (among the first {MAX_SCAN})")


class ExampleRequest(RunRequest):
    """One example: a test example's number, or an input drawn on the page (the model's
    input shape, flattened)."""
    checkpoint: Checkpoint = "last"
    example: Optional[Annotated[int, Field(ge=0, le=MAX_EXAMPLE)]] = Field(
        None, description="a test example's number")
    input: Optional[Annotated[list[schemas.Number], Field(
        min_length=1, max_length=MAX_INPUT_VALUES,
        description="the input's values, flattened (C·L or C·H·W)")]] = None
    label: Optional[Annotated[int, Field(ge=0, le=999)]] = Field(
        None, description="the drawn input's class (default: the predicted one)")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.example is None) == (self.input is None):
            raise ValueError("give exactly one of example (a test example's number) and "
                             "input (the values of a drawn input)")
        return self


class LayerRequest(ExampleRequest):
    layer: Annotated[str, Field(min_length=1, max_length=200,
                                description="a layer's name, as POST /api/model/run lists")]


class WindowRequest(LayerRequest):
    index: Annotated[list[Index], Field(min_length=2, max_length=3,
                                        description="the output cell [o, *t]")]


class ContributionsRequest(LayerRequest):
    weight: Annotated[list[Index], Field(min_length=3, max_length=4,
                                         description="the weight [o, c, *τ]")]


# ------------------------------------------------------------------ answers (documented)
class ModelUnprocessableBody(ErrorBody):
    errors: list[FieldProblem]
    kind: Literal["invalid", "impossible", "too_large", "unavailable"]


class RunsAnswer(BaseModel):
    runs: list[dict[str, str]] = Field(description="{name} per run, as requests name it")
    initial: Optional[str] = Field(description="the run the page opens (--run), if any")


class RunAnswer(BaseModel):
    run: str
    model: str
    description: str
    dataset: str
    input_shape: list[int]
    classes: list[str]
    drawable: Optional[Literal["signal", "image"]]
    checkpoints: list[dict[str, Any]] = Field(description="{step, best} per kept checkpoint")
    layers: list[dict[str, Any]] = Field(description="inspect.Layer.to_dict() per layer, in "
                                                     "running order")
    total_params: int
    total_macs: int
    metrics: dict[str, Any] = Field(description="{columns, rows} of metrics.jsonl")


class ExamplesAnswer(BaseModel):
    total: int
    scanned: int
    matched: int
    examples: list[dict[str, Any]]


class ExampleAnswer(BaseModel):
    run: str
    step: int
    checkpoint: str
    source: str
    example: Optional[int]
    input: list[Any]
    label: Optional[int]
    predicted: int
    target: int
    probabilities: list[Any]
    loss: Optional[float]
    layers: list[dict[str, Any]]


class LayerAnswer(BaseModel):
    name: str
    type: str
    step: int
    output_shape: list[int]
    output: list[Any]
    grad_output: Optional[list[Any]]
    stats: dict[str, Any]
    conv: Optional[dict[str, Any]]


class WindowAnswer(BaseModel):
    layer: str
    step: int
    window: dict[str, Any] = Field(description="convgrad.explain's Window: every product")
    computed: Optional[float]
    engine: Optional[float]
    difference: Optional[float]
    agrees: bool


class ContributionsAnswer(BaseModel):
    layer: str
    step: int
    weight_index: list[int]
    weight: float
    input_channel: int
    grad_output: list[Any]
    inputs: list[Any]
    products: list[Any]
    total: Optional[float]
    engine: Optional[float]
    difference: Optional[float]
    agrees: bool


POST_ERRORS = {
    **COMMON_ERRORS,
    415: {"model": ErrorBody, "description": "a body sent without Content-Type: "
                                             "application/json"},
    422: {"model": ModelUnprocessableBody,
          "description": "a request the model refuses or a run not listed ('invalid'), an "
                         "example, layer, cell or weight the model does not have "
                         "('impossible'), more than this page is sent ('too_large'), a run "
                         "that cannot be loaded ('unavailable'); errors names the fields"},
}


def _answers(model, errors) -> dict:
    return {200: {"model": model, "description": "the answer"}, **errors}


def _view(request: Request) -> ModelView:
    return request.app.state.model_view


def _answer(compute):
    try:
        return StrictJSONResponse(compute())
    except ModelViewError as error:
        raise ApiError(error.detail, error.kind, error.field) from None


@router.get("/runs", responses=_answers(RunsAnswer, COMMON_ERRORS))
def runs(request: Request):
    """The runs this server may show, by name."""
    view = _view(request)

    return _answer(lambda: {"runs": [{"name": name} for name in view.listing()],
                            "initial": view.folders.initial if view.folders else None})


@router.post("/run", responses=_answers(RunAnswer, POST_ERRORS))
def run(body: RunRequest, request: Request):
    """A run's network (layers, shapes, parameters, mult-adds, skips), its kept checkpoints
    and its training curves."""
    return _answer(lambda: _view(request).run_info(body.run))


@router.post("/examples", responses=_answers(ExamplesAnswer, POST_ERRORS))
def examples(body: ExamplesRequest, request: Request):
    """Test examples of one class, and/or those the model gets wrong."""
    view = _view(request)
    return _answer(lambda: view.examples(view.load(body.run, body.checkpoint), body.label,
                                         body.misclassified))


@router.post("/example", responses=_answers(ExampleAnswer, POST_ERRORS))
def example(body: ExampleRequest, request: Request):
    """One example through the model: its prediction and every layer's statistics."""
    view = _view(request)
    return _answer(lambda: view.example(view.load(body.run, body.checkpoint), body.example,
                                        body.input, body.label))


@router.post("/layer", responses=_answers(LayerAnswer, POST_ERRORS))
def layer(body: LayerRequest, request: Request):
    """One layer for one example: its feature maps, their gradient, its filters."""
    view = _view(request)
    return _answer(lambda: view.layer(view.load(body.run, body.checkpoint), body.example,
                                      body.input, body.label, body.layer))


@router.post("/window", responses=_answers(WindowAnswer, POST_ERRORS))
def window(body: WindowRequest, request: Request):
    """The window, filter, products and sum behind one feature-map cell."""
    view = _view(request)
    return _answer(lambda: view.window(view.load(body.run, body.checkpoint), body.example,
                                       body.input, body.label, body.layer, body.index))


@router.post("/contributions", responses=_answers(ContributionsAnswer, POST_ERRORS))
def contributions(body: ContributionsRequest, request: Request):
    """One weight's gradient as the sum of its per-position contributions."""
    view = _view(request)
    return _answer(lambda: view.contributions(view.load(body.run, body.checkpoint),
                                              body.example, body.input, body.label,
                                              body.layer, body.weight))
