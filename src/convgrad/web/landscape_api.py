"""The landscape view's routes (``landscapes`` reads the folder; ``answers`` documents the
bodies).  The folder is the app's, set when it is built: ``create_app(landscapes=DIR)``."""
from __future__ import annotations

from fastapi import APIRouter, Request

from .answers import COMMON_ERRORS, LandscapeAnswer, LandscapeList, error_answer
from .api import StrictJSONResponse
from .landscapes import LandscapeFolder, NoLandscape

router = APIRouter(prefix="/api")
NOT_FOUND = {404: error_answer("no landscape of that name in the list, a landscape that "
                               "cannot be read or is larger than the page draws, or no "
                               "landscapes folder (convgrad explore --landscapes DIR)")}


def _folder(request: Request) -> LandscapeFolder:
    return request.app.state.landscapes


@router.get("/landscapes", responses={200: {"model": LandscapeList,
                                            "description": "the answer"}, **COMMON_ERRORS})
def list_landscapes(request: Request) -> StrictJSONResponse:
    """The saved landscapes of the folder given to ``convgrad explore --landscapes``."""
    return StrictJSONResponse(_folder(request).listing())


# The name is read from the path itself, not declared as a parameter: FastAPI would document
# a 422 for it that can never be sent (any text is a name; one not in the list is a 404).
NAME_PARAMETER = {"name": "name", "in": "path", "required": True,
                  "description": "a name from GET /api/landscapes",
                  "schema": {"type": "string"}}


@router.get("/landscapes/{name}", responses={200: {"model": LandscapeAnswer,
                                                   "description": "the answer"},
                                             **COMMON_ERRORS, **NOT_FOUND},
            openapi_extra={"parameters": [NAME_PARAMETER]})
def get_landscape(request: Request) -> StrictJSONResponse:
    """One landscape, by a name from the list: its grid (rows follow y), its 1-D profiles,
    its centre and Hessian."""
    return StrictJSONResponse(_folder(request).landscape(request.path_params["name"]))


def install(app, folder) -> None:
    """The routes, the folder and the 404 for ``NoLandscape``."""
    app.state.landscapes = LandscapeFolder(folder)
    app.include_router(router)

    @app.exception_handler(NoLandscape)
    async def no_landscape(request: Request, error: NoLandscape):
        return StrictJSONResponse({"detail": str(error)}, status_code=404)
