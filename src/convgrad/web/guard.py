"""ASGI middleware that checks every request before the app sees it, and headers for every reply.

``RequestGuard``: with ``allowed_hosts`` (a server on a loopback address), a request whose
``Host`` header is not one of them is answered 400: a web page on another site cannot reach
the explorer through a name it made resolve to 127.0.0.1 (DNS rebinding).  A request body is
read in full here, up to ``max_body_bytes`` (a larger one, announced by Content-Length or
streamed, is answered 413 before it is all read); a POST to a JSON route (``json_paths``) must
be JSON (``Content-Type: application/json``, else 415) nested at most ``max_depth`` levels
(else 400: Python's JSON parser recurses, and the API needs only a few levels); a POST
anywhere else goes on to the app, which answers 405 (or 404).  The body is then replayed to
the app unchanged.

``SECURITY_HEADERS``: the page may load nothing from anywhere but this server
(Content-Security-Policy), and responses are not sniffed or framed.
"""
from __future__ import annotations

import json

import numpy as np

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
     b"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
     b"form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]

OPEN = frozenset(b"[{")
CLOSE = frozenset(b"]}")


def json_depth(body: bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` in ``body`` (brackets inside strings count too,
    which only ever overestimates: the API's strings are short names without brackets)."""
    codes = np.frombuffer(body, dtype=np.uint8)
    steps = np.zeros(codes.shape, dtype=np.int32)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max()) if codes.size else 0


async def _reply(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def loopback_hosts(port: int) -> frozenset:
    """The Host headers of a request addressed to this machine's loopback on ``port``."""
    names = ("127.0.0.1", "localhost", "[::1]")
    return frozenset(f"{name}:{port}" for name in names) | (
        frozenset(names) if port == 80 else frozenset())  # port 80 goes without


class RequestGuard:
    def __init__(self, app, max_body_bytes: int, max_depth: int, json_paths: frozenset,
                 allowed_hosts: frozenset | None = None):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_depth = max_depth
        self.json_paths = json_paths
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = dict(message)
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present]
            await send(message)

        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        if self.allowed_hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if host not in self.allowed_hosts:
                await _reply(send, 400, f"this server answers only requests addressed to "
                                        f"{' or '.join(sorted(self.allowed_hosts))}, not to "
                                        f"Host {host!r}")
                return
        limit = self.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                declared_size = int(declared)
            except ValueError:
                await _reply(send, 400, "Content-Length is not a number")
                return
            if declared_size > limit:
                await _reply(send, 413, f"request body is {declared_size} bytes; the limit "
                                        f"is {limit} bytes")
                return

        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _reply(send, 413, f"request body is over the limit of {limit} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)

        if scope["method"] == "POST" and scope["path"] in self.json_paths:
            content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if content_type != b"application/json":
                await _reply(send, 415, "send the request body as JSON, with the header "
                                        "Content-Type: application/json")
                return
            depth = json_depth(body)
            if depth > self.max_depth:
                await _reply(send, 400, f"the JSON body is nested {depth} levels deep; the "
                                        f"limit is {self.max_depth}")
                return

        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_headers)
