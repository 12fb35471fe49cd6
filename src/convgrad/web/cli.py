"""``convgrad explore``: serve the web explorer on this machine (default 127.0.0.1:8000).

The listening socket is opened here, before uvicorn starts, so that a port in use or an
unknown host is one line (``UsageError``) instead of a server log, and there is no moment
between checking the port and taking it.
"""
from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
import threading
import webbrowser
from pathlib import Path

from ..errors import UsageError
from .guard import loopback_hosts

DESCRIPTION = """\
Open a local web page that shows convolution and pooling at work: 1D and 2D convolution
with channels, groups, stride, padding (and its modes), dilation; transposed convolution;
max and average pooling; each window's products and sum; every use of a shared weight and
its gradient; the parameter count beside a dense layer; image filters; and the PyTorch code
for what is on the screen. With --landscapes DIR, a Landscape tab draws the loss surfaces
`convgrad landscape` saved there, two runs side by side. Every number is computed by
convgrad."""

EPILOG = """\
examples:
  convgrad explore                  # serve on http://127.0.0.1:8000 (this machine only)
  convgrad explore --port 8001 --open   # another port, and open the page in the browser"""


def register(subparsers) -> None:
    parser = subparsers.add_parser("explore", help="open the web explorer (a local server)",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--open", action="store_true",
                        help="open the page in the default web browser once it is served")
    parser.add_argument("--landscapes", metavar="DIR",
                        help="folder of saved landscapes (convgrad landscape's --out, default "
                             "landscapes/) for the Landscape tab; the page reads only the "
                             "landscapes listed in it")
    parser.set_defaults(func=run)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a ``UsageError`` saying why there is none."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be from 1 to 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UsageError(f"--host {host!r} is not an address this machine can listen on "
                         f"({error.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} on {host} is in use (another server?); choose "
                             f"another with --port, e.g. --port {port + 1}") from None
        if error.errno == errno.EACCES:
            raise UsageError(f"no permission to listen on port {port}; ports below 1024 need "
                             f"privileges, choose one above with --port") from None
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


def run(args) -> int:
    import uvicorn

    from .app import create_app

    landscapes = args.landscapes
    if landscapes is not None and not Path(landscapes).is_dir():
        raise UsageError(f"--landscapes {landscapes}: not a folder (convgrad landscape "
                         f"RUN --out DIR saves landscapes into one)")
    sock = bind(args.host, args.port)
    url = page_url(args.host, args.port)
    print(f"convgrad explore: serving on {url}  (Ctrl+C to stop)", file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"convgrad explore: note: listening on {args.host}, so other machines that can "
              f"reach this one can open the page too", file=sys.stderr)
    if args.open:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    # on a loopback address, answer only requests addressed to it (DNS rebinding)
    address = ipaddress.ip_address(sock.getsockname()[0])
    allowed = loopback_hosts(args.port) if address.is_loopback else None
    server = uvicorn.Server(uvicorn.Config(create_app(allowed, landscapes),
                                           log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
