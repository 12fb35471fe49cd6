"""The explorer's web app: the JSON API, the page, and nothing else.

``create_app()`` builds a FastAPI app that serves

    /                 the page (static/index.html)
    /static/<name>    a file of the package's static/ folder, by exact name only
    /api/...          the JSON API (``convgrad.web.api``)

Static files come from a fixed list made when the app is built: the regular files directly
inside ``static/`` whose names are plain (letters, digits, ``-``, ``_``, one extension).  A
request is looked up in that list, never joined onto a path, so ``..``, encoded slashes or
absolute paths cannot reach anything else.  ``/openapi.json`` describes the API, its answers
and its errors as they are sent (``answers``); FastAPI's interactive documentation pages are
off, because they load their scripts from a CDN and nothing here may load from outside.

``allowed_hosts`` (``guard.loopback_hosts(port)`` for a server on a loopback address) makes
the server answer only requests addressed to it (see ``guard``).
"""
from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse

from .. import __version__
from . import schemas
from .api import install_error_handlers, router
from . import landscape_api
from .guard import RequestGuard

STATIC_DIR = Path(__file__).parent / "static"
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9]+$")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def static_files(directory: Path = STATIC_DIR) -> dict:
    """name → path for every servable file directly inside ``directory``."""
    found = {}
    for path in sorted(directory.iterdir()):
        if (path.is_file() and not path.is_symlink() and PLAIN_NAME.match(path.name)
                and path.suffix in MEDIA_TYPES):
            found[path.name] = path.resolve()
    return found


API_DESCRIPTION = """\
The JSON API of `convgrad explore`: a step-by-step trace of a convolution or pooling (every
window, product and gradient contribution), and image mode. Every error is one line in
`detail`; a 422 also lists each problem's field in `errors` and says its `kind`."""


def create_app(allowed_hosts: frozenset | None = None,
               landscapes: str | Path | None = None) -> FastAPI:
    """The app; ``landscapes``: the folder of saved landscapes the landscape view reads."""
    app = FastAPI(title="convgrad explore", description=API_DESCRIPTION, version=__version__,
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json")
    files = static_files()

    def serve(name: str):
        path = files.get(name)
        if path is None:
            return JSONResponse({"detail": f"no static file named {name!r}"}, status_code=404)
        # no-cache: a page reloaded after an upgrade must not mix old and new scripts
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix],
                            headers={"cache-control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def index():
        return serve("index.html")

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        return serve(name)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return serve("favicon.svg")

    app.include_router(router)
    landscape_api.install(app, landscapes)
    install_error_handlers(app)
    # the routes that take a JSON body: the API's POST routes (the page's are all GET)
    json_paths = frozenset(route.path for route in router.routes if "POST" in route.methods)
    app.add_middleware(RequestGuard, max_body_bytes=schemas.MAX_BODY_BYTES,
                       max_depth=schemas.MAX_JSON_DEPTH, json_paths=json_paths,
                       allowed_hosts=allowed_hosts)
    return app
