"""A file read as one example for a model: a ``.npy`` array, a text of numbers (``.csv``,
``.txt``...), or an image (for a model of 2-D images), with a sentence saying how.

* ``.npy``: ``numpy.load(allow_pickle=False)`` of the file's bytes (never a pickle); any
  real number type, read as the model's float type.
* text: numbers separated by commas, spaces, tabs, semicolons or newlines.  Rows of equal
  length make a 2-D array (an image as rows of pixels), else the numbers are one row.
* an image (PNG, JPEG, GIF, BMP, WebP... whatever Pillow reads): converted to gray (or RGB
  for a 3-channel model), transparent pixels laid over white, resized to the model's H×W
  (a box filter when shrinking — each pixel the mean of the pixels it covers —, bilinear
  when enlarging) and scaled by 1/255 to [0, 1], as every image data set here is scaled
  (MNIST, Fashion-MNIST and CIFAR-10 bytes by 255; the 8×8 digits' 0–16 by 16).
  ``invert`` takes 1 − v: MNIST's digits are light on dark, most drawings dark on light.

An array fits the model's input shape (one example, no batch dim) when it has that shape,
the same shape with a batch dim of one, the same shape without its axes of size 1 (``(40,)``
for ``(1, 40)``, ``(28, 28)`` for ``(1, 28, 28)``), or the same number of values with the
same last axis (rows of pixels of stacked channels).  Anything else is an ``InputError``:
one line naming the file, what it holds and what the model takes.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.errors import DataError
from ..data.files import read_regular_file

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096
NPY_MAGIC = b"\x93NUMPY"
IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"RIFF", b"II*\x00",
               b"MM\x00*", b"P5", b"P6")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".pgm",
                  ".ppm", ".pnm"}
TEXT_SEPARATORS = re.compile(r"[,;\s]+")


class InputError(ValueError):
    """A file that cannot be read as the model's input (one line naming the file)."""


@dataclass
class ModelInput:
    values: np.ndarray        # the model's input shape, float32
    description: str          # how the file became these values, in words


def shape_text(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def fit_shape(array: np.ndarray, input_shape: tuple, source: str) -> np.ndarray:
    """``array`` as one example of ``input_shape`` (module docstring), or an InputError."""
    input_shape = tuple(input_shape)
    squeezed = tuple(n for n in input_shape if n != 1)
    if array.shape in (input_shape, (1, *input_shape)) or \
            tuple(n for n in array.shape if n != 1) == squeezed or \
            (array.size == math.prod(input_shape) and array.ndim >= 1
             and array.shape[-1] == input_shape[-1]):
        return array.reshape(input_shape)
    accepted = [shape_text(input_shape), shape_text(squeezed) if squeezed != input_shape
                else None, shape_text((1, *input_shape))]
    raise InputError(f"{source}: holds an array of shape {shape_text(array.shape)} "
                     f"({array.size} values); the model takes one example of shape "
                     f"{' or '.join(s for s in accepted if s)} ({math.prod(input_shape)} "
                     f"values)")


def _finite(values: np.ndarray, source: str) -> np.ndarray:
    if values.dtype.kind not in "biuf":
        raise InputError(f"{source}: holds {values.dtype} values; the model takes real "
                         f"numbers")
    values = values.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError(f"{source}: value {bad[0]} (counting from 0) is "
                         f"{values.ravel()[bad[0]]}; the model takes finite numbers")
    return values


def _read_npy(data: bytes, source: str) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        reason = "it holds Python objects, which are read only as pickles (refused)" \
            if "allow_pickle" in str(error) else str(error).splitlines()[0]
        raise InputError(f"{source}: not a .npy array convgrad can read ({reason})") from None
    except (OSError, EOFError) as error:
        raise InputError(f"{source}: a truncated or corrupt .npy file ({error})") from None


def _read_text(data: bytes, source: str) -> np.ndarray:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source}: neither a .npy array, an image, nor a text of numbers "
                         f"(it is not UTF-8 text)") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = [t for t in TEXT_SEPARATORS.split(line.strip()) if t]
        try:
            rows.append([float(t) for t in tokens])
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise InputError(f"{source}: line {number}: {bad[:40]!r} is not a number")
    rows = [row for row in rows if row]
    if not rows:
        raise InputError(f"{source}: holds no numbers")
    if len(rows) > 1 and len({len(row) for row in rows}) == 1 and len(rows[0]) > 1:
        return np.array(rows)
    return np.array([value for row in rows for value in row])


def _is_number(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def _read_image(data: bytes, input_shape: tuple, source: str, invert: bool):
    from PIL import Image, UnidentifiedImageError

    if len(input_shape) != 3:
        raise InputError(f"{source}: an image, but the model takes 1-D signals of shape "
                         f"{shape_text(input_shape)}: give a .npy array or a text of "
                         f"{math.prod(input_shape)} numbers")
    channels, height, width = input_shape
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise InputError(f"{source}: an image of {image.width}×{image.height} pixels, "
                             f"more than the {MAX_IMAGE_PIXELS} read here")
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{source}: not an image that can be read "
                         f"({str(error).splitlines()[0] if str(error) else type(error).__name__})"
                         ) from None
    steps = [f"a {image.width}×{image.height} {image.mode} image"]
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and
                                              "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
        steps.append("transparent pixels over white")
    target = "L" if channels == 1 else "RGB"
    if channels not in (1, 3):
        raise InputError(f"{source}: an image, but the model takes {channels} channels")
    image = image.convert(target)
    steps.append("gray" if channels == 1 else "RGB")
    if image.size != (width, height):
        shrinking = image.width >= width and image.height >= height
        image = image.resize((width, height), Image.Resampling.BOX if shrinking
                             else Image.Resampling.BILINEAR)
        steps.append(f"resized to {width}×{height} ({'box filter' if shrinking else 'bilinear'})")
    pixels = np.asarray(image, dtype=np.float64) / 255.0
    pixels = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    steps.append("÷255 to [0, 1]")
    if invert:
        pixels = 1.0 - pixels
        steps.append("inverted (1 − v)")
    return pixels, steps


def read_input(path: str | Path, input_shape: tuple, dtype=np.float32,
               invert: bool = False, dataset: str | None = None) -> ModelInput:
    """The file at ``path`` as one example of ``input_shape`` (module docstring)."""
    source = str(path)
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except DataError as error:
        raise InputError(str(error)) from None
    suffix = Path(path).suffix.lower()
    looks_like_image = suffix in IMAGE_SUFFIXES or data.startswith(IMAGE_MAGIC)
    if data.startswith(NPY_MAGIC) or suffix == ".npy":
        raw = _read_npy(data, source)
        array = _finite(raw, source)
        what = f"a {raw.dtype} array"
        values = fit_shape(array, input_shape, source)
        description = (f"{source}: {what} of shape {shape_text(array.shape)}, read as one "
                       f"example of shape {shape_text(input_shape)}")
    elif looks_like_image:
        pixels, steps = _read_image(data, tuple(input_shape), source, invert)
        values = pixels.reshape(input_shape)
        scale = f", as {dataset}'s pixels are" if dataset else ""
        description = f"{source}: " + " → ".join(steps) + scale
    else:
        array = _finite(_read_text(data, source), source)
        values = fit_shape(array, input_shape, source)
        description = (f"{source}: {array.size} numbers"
                       + (f" in {array.shape[0]} rows" if array.ndim == 2 else "")
                       + f", read as one example of shape {shape_text(input_shape)}")
    if invert and not looks_like_image:
        values = 1.0 - values
        description += ", inverted (1 − v)"
    return ModelInput(np.asarray(values, dtype=dtype), description)
