"""Helpers for the web explorer's tests: a real uvicorn server on a free port, in a thread,
and Debian's chromium for Playwright (skipped loudly where it is missing, failed under CI)."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


def chromium_or_skip() -> str:
    """The chromium executable; a loud skip without it, a failure when ``CI`` is set."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    if path:
        return path
    reason = (f"BROWSER TESTS NOT RUN: Debian's chromium is not installed ({CHROMIUM}); "
              f"install it with `apt-get install -y chromium` (.ci/run does)")
    if os.environ.get("CI"):
        pytest.fail(reason + " — and CI is set, so this is a failure")
    pytest.skip(reason)


def free_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 with a port the system chose (no race to reuse it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@contextmanager
def running_server(app=None, landscapes=None):
    """``create_app()`` served by uvicorn in a thread, answering only requests addressed to its
    loopback address as ``convgrad explore`` does (``landscapes``: its --landscapes folder);
    yields the base URL."""
    import uvicorn

    from convgrad.web.app import create_app
    from convgrad.web.guard import loopback_hosts

    sock = free_socket()
    port = sock.getsockname()[1]
    app = app or create_app(loopback_hosts(port), landscapes=landscapes)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def raw_get(base_url: str, raw_path: str, host: str | None = None) -> tuple:
    """GET ``raw_path`` exactly as written (no client-side normalisation of ``..`` or
    percent-escapes), with the ``Host`` header given (default: the URL's host and port);
    returns (status, body bytes)."""
    address, port = base_url.removeprefix("http://").split(":")
    host = f"{address}:{port}" if host is None else host
    with socket.create_connection((address, int(port)), timeout=10) as conn:
        conn.sendall(f"GET {raw_path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body
