"""``convgrad explore``: a local web page that shows convolution and pooling at work.

The page (``static/``: plain HTML, CSS and JavaScript, no build step, nothing loaded from
outside) asks the JSON API (``api``) for a trace of the current setting and draws it; every
number it shows comes from that answer, computed by ``convgrad.explain`` and checked against
``convgrad.functional``.  ``app.create_app()`` builds the FastAPI app; ``cli`` runs it with
uvicorn.  Files: ``schemas`` (request models and their bounds), ``guard`` (body size, JSON
depth, security headers), ``counts`` (parameter counts beside a dense layer), ``snippet``
(the PyTorch code), ``engine`` (the engine's cross-check), ``image`` (image mode).
"""
