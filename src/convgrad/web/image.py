"""Image mode: a bundled grayscale image, preset kernels, and output values as gray levels.

The bundled image (``static/sample.png``, 96×96, 8-bit grayscale) is drawn here by
``make_sample_image()`` — shapes with hard edges, smooth gradients, stripes, a checkerboard,
thin lines and a little deterministic noise, so every preset kernel has something to show —
and written with ``python -m convgrad.web.image``.  The PNG codec below handles exactly that
kind of file (8-bit grayscale, not interlaced) with ``zlib`` and ``struct``; the browser
decodes the user's own uploads itself.

The convolution is the engine's ``convgrad.functional.conv2d`` (with ``F.pad`` first for a
padding mode other than zeros, as ``nn.Conv2d`` does); ``display`` turns its output into gray
levels and says how.
"""
from __future__ import annotations

import math
import struct
import time
import zlib
from pathlib import Path

import numpy as np

import convgrad as cg
import convgrad.functional as F

from .. import shapes
from ..explain.arguments import conv_axis, pad_widths

SAMPLE_PATH = Path(__file__).parent / "static" / "sample.png"
SAMPLE_SIZE = 96
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(ValueError):
    """An image or setting the user can fix; the message says what is wrong."""


# ------------------------------------------------------------------ the bundled image
def _hash_noise(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Deterministic noise in [−1, 1] from integer hashing (no RNG, so the same everywhere)."""
    h = (rows.astype(np.uint64) * np.uint64(73856093)) ^ (cols.astype(np.uint64)
                                                          * np.uint64(19349663))
    h = (h ^ (h >> np.uint64(13))) * np.uint64(0x5BD1E995) & np.uint64(0xFFFFFFFF)
    h = h ^ (h >> np.uint64(15))
    return (h % np.uint64(2001)).astype(np.float64) / 1000.0 - 1.0


def make_sample_image(size: int = SAMPLE_SIZE) -> np.ndarray:
    """The bundled image, as uint8 gray levels (0 black … 255 white), ``size``×``size``."""
    r, c = np.mgrid[0:size, 0:size].astype(np.float64)
    s = size / 96.0  # the drawing is laid out on a 96-pixel grid
    image = 70 + 110 * c / (size - 1)                                   # left-to-right ramp
    # a bright disc with a dark ring inside: curved edges in every direction
    d = np.hypot(r - 30 * s, c - 30 * s)
    image = np.where(d < 20 * s, 225.0, image)
    image = np.where((d > 9 * s) & (d < 12 * s), 60.0, image)
    # a dark square: straight horizontal and vertical edges
    square = (r >= 58 * s) & (r < 86 * s) & (c >= 8 * s) & (c < 36 * s)
    image = np.where(square, 35.0, image)
    # a radial gradient inside the square (smooth: blur leaves it, edges ignore it)
    inner = square & (np.hypot(r - 72 * s, c - 22 * s) < 9 * s)
    image = np.where(inner, 35 + 160 * (1 - np.hypot(r - 72 * s, c - 22 * s) / (9 * s)), image)
    # diagonal stripes: texture with a direction (Sobel x and y respond differently)
    stripes = (r >= 6 * s) & (r < 44 * s) & (c >= 54 * s) & (c < 90 * s)
    image = np.where(stripes, np.where(((r + c) // (4 * s)) % 2 == 0, 200.0, 80.0), image)
    # a checkerboard: fine detail that blur removes and the Laplacian lights up
    checker = (r >= 56 * s) & (r < 88 * s) & (c >= 54 * s) & (c < 90 * s)
    image = np.where(checker, np.where(((r // (4 * s)) + (c // (4 * s))) % 2 == 0, 240.0, 20.0),
                     image)
    # a triangle between them, with a slanted edge
    triangle = (r >= 48 * s) & (r < 54 * s + (c - 40 * s)) & (c >= 40 * s) & (c < 50 * s)
    image = np.where(triangle, 150.0, image)
    # thin lines: one pixel wide, one horizontal, one vertical
    image = np.where((np.abs(r - 50 * s) < 0.5) & (c < 36 * s), 250.0, image)
    image = np.where((np.abs(c - 46 * s) < 0.5) & (r > 60 * s), 250.0, image)
    image = image + 10 * _hash_noise(r, c)                              # a little grain
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ PNG (8-bit grayscale)
def _chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def encode_png(gray: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of ``gray`` (uint8, H×W), every row with filter 0 (none)."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = gray.shape
    raw = b"".join(b"\x00" + gray[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def decode_png(data: bytes) -> np.ndarray:
    """The gray levels of an 8-bit grayscale, non-interlaced PNG (what ``encode_png`` writes)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ImageError("not a PNG file")
    position, header, idat = len(PNG_SIGNATURE), None, []
    while position + 8 <= len(data):
        length, tag = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat.append(body)
        elif tag == b"IEND":
            break
    if header is None:
        raise ImageError("PNG without an IHDR chunk")
    width, height, depth, color, _, _, interlace = header
    if (depth, color, interlace) != (8, 0, 0):
        raise ImageError(f"only 8-bit grayscale, non-interlaced PNGs are read here, got bit "
                         f"depth {depth}, colour type {color}, interlace {interlace}")
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (width + 1):
        raise ImageError(f"PNG data holds {len(raw)} bytes, expected {height * (width + 1)}")
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, width + 1)
    out = np.zeros((height, width), dtype=np.uint8)
    previous = np.zeros(width, dtype=np.int64)
    for r in range(height):
        kind, line = rows[r, 0], rows[r, 1:].astype(np.int64)
        if kind == 0:
            current = line
        elif kind == 2:  # up
            current = (line + previous) % 256
        elif kind in (1, 3, 4):  # sub, average, Paeth: each byte depends on the one before
            current = np.zeros(width, dtype=np.int64)
            for k in range(width):
                left = current[k - 1] if k else 0
                up, corner = previous[k], (previous[k - 1] if k else 0)
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    estimate = left + up - corner
                    da, db, dc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                    predictor = left if da <= db and da <= dc else (up if db <= dc else corner)
                current[k] = (line[k] + predictor) % 256
        else:
            raise ImageError(f"unknown PNG filter type {kind} in row {r}")
        out[r] = current
        previous = current
    return out


def sample_image() -> dict:
    """The bundled image as the API serves it: gray levels scaled to [0, 1] (4 decimals)."""
    gray = decode_png(SAMPLE_PATH.read_bytes())
    return {"name": SAMPLE_PATH.name, "height": int(gray.shape[0]),
            "width": int(gray.shape[1]),
            "pixels": np.round(gray / 255.0, 4).tolist(),
            "scale": "0 = black, 1 = white (gray level / 255)"}


# ------------------------------------------------------------------ preset kernels
def _gaussian(size: int) -> list:
    """Binomial weights (a Gaussian's discrete cousin), normalised to sum 1."""
    row = np.array([math.comb(size - 1, k) for k in range(size)], dtype=np.float64)
    kernel = np.outer(row, row)
    return (kernel / kernel.sum()).tolist()


PRESETS = {
    "identity": {"label": "Identity", "kernel": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
                 "note": "copies each pixel: the output is the input"},
    "box_blur": {"label": "Box blur", "kernel": (np.full((3, 3), 1 / 9)).tolist(),
                 "note": "the mean of the 3×3 neighbourhood: every weight 1/9"},
    "gaussian": {"label": "Gaussian blur", "kernel": _gaussian(5),
                 "note": "a weighted mean, heavier in the middle (binomial 1 4 6 4 1 / 16 "
                         "per axis): a softer blur than the box"},
    "sharpen": {"label": "Sharpen", "kernel": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
                "note": "the pixel plus its difference from its neighbours: edges get "
                        "steeper; weights sum to 1, so flat regions keep their gray"},
    "sobel_x": {"label": "Sobel x", "kernel": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
                "note": "right minus left: responds to vertical edges (bright where the "
                        "image gets brighter to the right); weights sum to 0"},
    "sobel_y": {"label": "Sobel y", "kernel": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
                "note": "below minus above: responds to horizontal edges; weights sum to 0"},
    "laplacian": {"label": "Laplacian", "kernel": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                  "note": "neighbours minus four times the centre: zero on flat areas and "
                          "ramps, large on fine detail and edges; weights sum to 0"},
}


# ------------------------------------------------------------------ output as gray levels
def display(values: np.ndarray, mapping: str, kernel_sum: float) -> dict:
    """Gray levels (0–255) for ``values`` and a sentence saying how they were mapped.

    ``clip``: 0 → black, 1 → white, outside clipped (the input's own scale) · ``minmax``: the
    smallest value → black, the largest → white · ``signed``: 0 → mid-gray, ±max|v| → white /
    black · ``auto``: signed when the kernel's weights sum to 0 (edge detectors: the output is
    a signed difference), else clip.
    """
    low, high = float(values.min()), float(values.max())
    chosen = mapping
    if mapping == "auto":
        chosen = "signed" if abs(kernel_sum) < 1e-9 else "clip"
    if chosen == "clip":
        gray = np.clip(values, 0.0, 1.0) * 255.0
        below, above = int((values < 0).sum()), int((values > 1).sum())
        text = "0 → black, 1 → white (the input's scale)"
        if below or above:
            text += f"; {below} values below 0 shown black, {above} above 1 shown white"
    elif chosen == "minmax":
        if high > low:
            gray = (values - low) / (high - low) * 255.0
            text = f"linear: the minimum {_short(low)} → black, the maximum {_short(high)} → white"
        else:
            gray = np.full_like(values, 127.5)
            text = f"every value is {_short(low)}: shown mid-gray"
    else:
        peak = float(np.abs(values).max())
        if peak > 0:
            gray = 127.5 + 127.5 * values / peak
            text = (f"signed: 0 → mid-gray, +{_short(peak)} → white, −{_short(peak)} → black "
                    f"(the largest |value|)")
        else:
            gray = np.full_like(values, 127.5)
            text = "every value is 0: shown mid-gray"
    pixels = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return {"mapping": chosen, "requested": mapping, "text": text, "min": low, "max": high,
            "pixels": pixels.tolist()}


def _short(value: float) -> str:
    return f"{value:.4g}"


# ------------------------------------------------------------------ the convolution
def convolve(image, kernel, stride, padding, padding_mode: str, mapping: str) -> dict:
    """``image`` (H×W) through ``kernel`` with the engine's ``F.conv2d``; output and display."""
    x = np.asarray(image, dtype=np.float64)
    w = np.asarray(kernel, dtype=np.float64)
    try:
        # the checks every front end shares: the same messages as the layer view
        args = shapes.conv_arguments("conv2d", 2, x[None].shape, w[None, None].shape, None,
                                     stride, padding, 1, 1)
        shapes.check_conv_padding_mode("conv2d", padding_mode, args.padding, x.shape)
    except shapes.ArgumentError as error:
        raise ImageError(str(error)) from None
    stride, pads = args.stride, args.padding
    same = isinstance(padding, str) and padding == "same"
    axes = [conv_axis(name, n, k, s, before, after, 1, same)
            for name, n, k, s, (before, after) in zip(("H", "W"), x.shape, w.shape, stride, pads)]

    xt = cg.tensor(x[None, None])
    wt = cg.tensor(w[None, None])
    started = time.perf_counter()
    if padding_mode == "zeros":
        arg = padding if isinstance(padding, str) else tuple(before for before, _ in pads)
        y = F.conv2d(xt, wt, None, stride=stride, padding=arg)
    else:
        y = F.conv2d(F.pad(xt, pad_widths(pads), mode=padding_mode), wt, None, stride=stride,
                     padding=0)
    elapsed = time.perf_counter() - started
    out = np.asarray(y.numpy(), dtype=np.float64)[0, 0]
    return {
        "output": out.tolist(),
        "output_shape": list(out.shape),
        "axes": [axis.to_dict() for axis in axes],
        "display": display(out, mapping, float(w.sum())),
        "input_display": np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8).tolist(),
        "kernel_sum": float(w.sum()),
        "summary": (f"Output values range from {_short(float(out.min()))} to "
                    f"{_short(float(out.max()))}; the kernel's weights sum to "
                    f"{_short(float(w.sum()))}."),
        "engine": {"function": "convgrad.functional.conv2d"
                   + (" (after convgrad.functional.pad)" if padding_mode != "zeros" else ""),
                   "milliseconds": round(1000 * elapsed, 3)},
    }


if __name__ == "__main__":  # python -m convgrad.web.image: (re)write the bundled image
    SAMPLE_PATH.write_bytes(encode_png(make_sample_image()))
    print(f"wrote {SAMPLE_PATH} ({SAMPLE_PATH.stat().st_size} bytes)")
