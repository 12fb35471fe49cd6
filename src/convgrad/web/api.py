"""The explorer's JSON API: one route per operation, image mode, and clear 4xx errors.

    POST /api/{op}          op: conv1d, conv2d, conv_transpose1d/2d, max_pool1d/2d,
                            avg_pool1d/2d; body: the op's request model (``schemas``).
                            Answer: {"op", "trace": Trace.to_dict(), "counts", "snippet",
                            "engine"} — the trace (convgrad.explain) gives every number the
                            page draws; "engine" is convgrad.functional run on the same values.
    GET  /api/limits        the bounds, for programs (the page's copies of them in
                            state.js and image.js are checked against schemas by the tests)
    GET  /api/image/sample  the bundled image as numbers in [0, 1]
    GET  /api/image/presets the preset kernels
    POST /api/image         an image through a kernel with convgrad.functional.conv2d

Every error is ``{"detail": "<one line naming the field and the bound or constraint>"}``
(``answers`` has the models, which ``/openapi.json`` publishes): 422, with ``errors`` and
``kind``, for a request the models refuse or a body that is not valid JSON (the message gives
the character where parsing stopped) — ``invalid`` —, a setting PyTorch refuses
(``convgrad.shapes``'s message) — ``impossible`` —, or a trace larger than the explorer's size
bound — ``too_large``; 400 for a body that cannot be read at all (not UTF-8, a number too
long to parse) and from ``guard`` (nested too deep, a Content-Length that is not a number, a
Host this server does not answer to); 405 for a method a path does not serve; 413/415 from
``guard``; never a 500 for anything a client sends.
"""
import json

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import explain
from ..explain.model import TraceError, TraceTooLarge
from . import image, schemas
from .answers import (COMMON_ERRORS, JSON_POST_ERRORS, ImageAnswer, ImageSample, Limits,
                      Presets, TraceAnswer)
from .counts import layer_counts
from .engine import run_engine
from .snippet import pytorch_snippet

router = APIRouter(prefix="/api")


class ApiError(Exception):
    """A 422 answer for a setting the request models accept: its one-line message, its
    ``kind`` (``impossible`` or ``too_large``) and the field at fault."""

    def __init__(self, detail: str, kind: str, field: str | None):
        super().__init__(detail)
        self.detail, self.kind, self.field = detail, kind, field or "body"


def too_large(op: str, error: TraceTooLarge) -> ApiError:
    """A trace bigger than the page draws: the explorer's bound, not the operation's."""
    return ApiError(f"{op}: this trace would list {error.count} "
                    f"{error.what}, more than the explorer's size bound of {error.bound} (a "
                    f"limit of this page, which draws every one of them, not of the "
                    f"operation, which PyTorch and convgrad compute at any size); use a "
                    f"smaller input or kernel, or fewer channels", "too_large", error.argument)


# ------------------------------------------------------------------ operations
def trace_operation(op: str, body) -> dict:
    """The whole answer for one operation: trace, counts, snippet, engine check."""
    arguments = body.model_dump()
    try:
        trace = explain.trace(op, **arguments, backward=True,
                              max_products=schemas.MAX_TRACE_PRODUCTS)
    except TraceTooLarge as error:
        raise too_large(op, error) from None
    except TraceError as error:
        raise ApiError(str(error), "impossible", error.argument) from None
    return {
        "op": op,
        "trace": trace.to_dict(),
        "counts": layer_counts(trace),
        "snippet": pytorch_snippet(trace),
        "engine": run_engine(trace),
    }


def _route(op: str, model):
    def handler(body: model) -> JSONResponse:
        return StrictJSONResponse(trace_operation(op, body))

    handler.__name__ = f"trace_{op}"
    handler.__doc__ = f"Trace {op}: every window, product and gradient contribution."
    return handler


def _answers(model, errors) -> dict:
    """``responses=`` for a route: its 200 body and the errors it may send."""
    return {200: {"model": model, "description": "the answer"}, **errors}


for _op, _model in schemas.OP_MODELS.items():
    router.add_api_route(f"/{_op}", _route(_op, _model), methods=["POST"], name=_op,
                         responses=_answers(TraceAnswer, JSON_POST_ERRORS))


@router.get("/limits", responses=_answers(Limits, COMMON_ERRORS))
def limits() -> JSONResponse:
    """The bounds of every request (the page's copies in state.js and image.js are checked
    against them by the tests)."""
    return StrictJSONResponse({name.lower(): getattr(schemas, name)
                               for name in schemas.LIMIT_NAMES})


# ------------------------------------------------------------------ image mode
@router.get("/image/sample", responses=_answers(ImageSample, COMMON_ERRORS))
def image_sample() -> JSONResponse:
    """The bundled image as gray levels in [0, 1]."""
    return StrictJSONResponse(image.sample_image())


@router.get("/image/presets", responses=_answers(Presets, COMMON_ERRORS))
def image_presets() -> JSONResponse:
    """The preset kernels (blur, sharpen, Sobel, Laplacian, ...)."""
    return StrictJSONResponse({"presets": [{"name": name, **preset}
                                           for name, preset in image.PRESETS.items()]})


@router.post("/image", responses=_answers(ImageAnswer, JSON_POST_ERRORS))
def image_convolve(body: schemas.ImageRequest) -> JSONResponse:
    """An image through a kernel with convgrad.functional.conv2d, and its gray levels."""
    try:
        result = image.convolve(body.image, body.kernel, body.stride, body.padding,
                                body.padding_mode, body.mapping)
    except image.ImageError as error:
        raise ApiError(str(error), "impossible", None) from None
    return StrictJSONResponse(result)


# ------------------------------------------------------------------ responses and errors
class StrictJSONResponse(JSONResponse):
    """JSON that any parser accepts: no NaN or Infinity (they are strings in a trace)."""

    def render(self, content) -> bytes:
        return json.dumps(content, allow_nan=False, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")


def _field(loc, kind: str = "") -> str:
    """``("body", "input", 0, 2)`` → ``input[0][2]``."""
    if len(loc) == 2 and loc[0] == "body" and isinstance(loc[1], int) and kind == "json_invalid":
        return f"body (at character {loc[1]})"
    parts = [part for part in loc if part != "body"]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "body"


def _message(error: dict) -> str:
    kind, message = error.get("type", ""), error.get("msg", "")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"is not valid JSON ({reason})" if reason else "is not valid JSON"
    if kind == "missing":
        return "a JSON object is required" if tuple(error.get("loc", ())) == ("body",) else (
            "is required")
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind in ("too_long", "too_short") and "List should have" in message:
        ctx = error.get("ctx") or {}
        if kind == "too_long":
            return (f"has {ctx.get('actual_length', 'too many')} entries; at most "
                    f"{ctx.get('max_length')} are allowed")
        return f"needs at least {ctx.get('min_length')} entries"
    if kind in ("less_than_equal", "greater_than_equal") and "ctx" in error:
        ctx = error["ctx"]
        bound = ctx.get("le", ctx.get("ge"))
        word = "at most" if kind == "less_than_equal" else "at least"
        return f"must be {word} {bound:g}" if isinstance(bound, float) else f"must be {word} {bound}"
    if kind == "finite_number":
        return "must be a finite number (no NaN or Infinity)"
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if message.startswith("Input should be"):
        message = "must be" + message[len("Input should be"):]
    return message[:1].lower() + message[1:]


def validation_message(errors) -> tuple:
    """One line for the first few problems, and the list for programs."""
    listed = []
    for error in errors:
        entry = {"field": _field(error.get("loc", ()), error.get("type", "")),
                 "message": _message(error)}
        if entry not in listed:
            listed.append(entry)
    text = "; ".join(f"{e['field']}: {e['message']}" for e in listed[:3])
    if len(listed) > 3:
        text += f" (and {len(listed) - 3} more)"
    return text, listed


def install_error_handlers(app) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        text, listed = validation_message(error.errors())
        return StrictJSONResponse({"detail": text, "errors": listed[:20], "kind": "invalid"},
                                  status_code=422)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        return StrictJSONResponse({"detail": error.detail, "kind": error.kind,
                                   "errors": [{"field": error.field, "message": error.detail}]},
                                  status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        detail = error.detail
        if error.status_code == 404:
            detail = f"nothing at {request.url.path}"
        elif error.status_code == 405:
            detail = f"{request.method} is not allowed at {request.url.path}"
        elif error.status_code == 400 and "parsing the body" in str(detail):
            detail = "the body could not be read as JSON"
        return StrictJSONResponse({"detail": str(detail)}, status_code=error.status_code,
                                  headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception):
        # A bug, not a client error; say so plainly rather than leak a traceback.
        return StrictJSONResponse({"detail": f"internal error ({type(error).__name__}); "
                                             f"please report it"}, status_code=500)


__all__ = ["router", "install_error_handlers", "trace_operation", "ApiError"]
