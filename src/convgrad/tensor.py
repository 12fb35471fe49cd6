"""The Tensor: a NumPy array plus what reverse-mode autograd needs to know about it.

``Tensor.data`` is the NumPy array itself (not a Tensor, unlike PyTorch's ``.data``).
``Tensor.grad`` is a Tensor, created on the first backward pass that reaches a leaf and
accumulated (``+=``) by every later one, as in PyTorch.

Dtypes follow PyTorch: Python floats become float32, NumPy float64 arrays stay float64,
integers become int64 and booleans stay bool.  Only floating tensors can require grad.

This module owns the wrapping of arrays: a tensor's graph fields, :func:`from_op` (an
operation's output, recorded in the graph of ``autograd``), :func:`view_of` (an output that
shares its input's memory) and the device.  The operations themselves — arithmetic,
reductions, reshapes, in-place updates — live in ``convgrad.ops``, which builds on this
module and attaches them to the class as its methods and operators (``ops/methods.py``).

Views, as in PyTorch.  A view (``x.reshape``, ``x.permute``, ``x[1:3]``, ``x.expand``, ...)
shares its base's memory and its base's version counter; it remembers its base and how to
make itself from it.  When the base (or another view of it) is changed in place, the view's
``grad_fn`` is remade from the base's new history the next time it is used, so gradients
always follow the values the view shows.
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np

from .autograd import (Node, VersionCounter, graph_input, is_grad_enabled, run_backward,
                       save)

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_FLOAT_DTYPES = (float32, float64, np.dtype(np.float16))


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert ``data`` to an ndarray with PyTorch's dtype inference."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        array = data
    else:
        array = np.asarray(data)
        # Python floats (and lists of them) are float32 by default, as torch's default dtype.
        if array.dtype == float64:
            array = array.astype(float32)
    if array.dtype.kind in "iu" and array.dtype != int64 and not isinstance(data, np.ndarray):
        array = array.astype(int64)
    if array.dtype.kind not in "fiub":
        raise TypeError(
            f"can't convert data of dtype {array.dtype} to a Tensor: only floating point, "
            "integer and boolean data are supported"
        )
    if dtype is not None:
        array = array.astype(np.dtype(dtype), copy=False)
    return array


# ----------------------------------------------------------------------------- devices
# The device types PyTorch knows by name.
_DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                 "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                 "privateuseone")


class device:
    """Where a tensor lives (``torch.device``): always ``device(type='cpu')`` here.

    ``device('cuda:0')`` can be named, as in PyTorch, but nothing can move there: convgrad's
    NumPy engine runs on the CPU (:func:`check_cpu`).
    """

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        text = str(spec)
        kind, _, number = text.partition(":")
        if kind not in _DEVICE_TYPES or (number and not number.isdigit()):
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                f"string: {text}"
            )
        self.type = kind
        self.index = int(number) if number else index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def _names_device(arg) -> bool:
    return isinstance(arg, device) or (isinstance(arg, str)
                                       and arg.partition(":")[0] in _DEVICE_TYPES)


def to_arguments(args: tuple, dtype=None, device_=None) -> np.dtype | None:
    """The dtype a ``.to(...)`` call asks for (None: keep it), its arguments read as PyTorch
    reads them — a device, a dtype, both, or another tensor — with the device checked."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg.dtype
        elif _names_device(arg):
            device_ = arg
        else:
            dtype = arg
    if device_ is not None:
        check_cpu(device_)
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        if isinstance(dtype, str):
            device(dtype)          # not a dtype: say which devices exist (RuntimeError)
        raise TypeError(f"to() expected a dtype or a device, got {dtype!r}") from None


def check_cpu(spec) -> device:
    """``spec`` as a device; RuntimeError in one line for anything but the CPU."""
    where = device(spec)
    if where.type != "cpu":
        raise RuntimeError(
            f"cannot move to device '{where}': convgrad's NumPy engine runs on the CPU only "
            f"(use device='cpu'); to train on a GPU, run `convgrad train --backend torch`"
        )
    return where


# ----------------------------------------------------------------------------- views
class _View:
    """How a view derives from its base (PyTorch's view tracking, in miniature).

    ``base``     the tensor whose memory the view shows (never itself a view)
    ``replay``   array ↦ the view of it: the chain of view operations from the base
    ``stamp``    the shared version when the view's ``grad_fn`` was last made
    ``tracked``  made with grad enabled; a view made under ``no_grad`` stays out of the graph
    ``orphaned`` an untracked view whose base (which requires grad) changed since: it has no
                 history to give, and using it where a gradient is needed raises (PyTorch's
                 ``grad_fn=<Invalid>``)
    """

    __slots__ = ("base", "replay", "stamp", "tracked", "orphaned")

    def __init__(self, base: "Tensor", replay, stamp: int, tracked: bool):
        self.base, self.replay, self.stamp, self.tracked = base, replay, stamp, tracked
        self.orphaned = False

    def positions(self) -> np.ndarray:
        """For each element of the view, its flat (row-major) index in the base."""
        return self.replay(np.arange(self.base.data.size).reshape(self.base.shape))

    def refresh(self, view: "Tensor") -> None:
        """After an in-place change of the base or of another view of it: the view's values
        are now the base's, so its gradient must flow to the base's new history."""
        self.stamp = view._version_counter.value
        base = self.base
        if not self.tracked:
            self.orphaned = view._requires_grad = base.requires_grad
            return
        if not base.requires_grad:
            view._grad_fn, view._requires_grad = None, False
            return
        view._grad_fn = view_node(base, self.positions(), view.data)
        view._requires_grad = True


def view_node(base: "Tensor", positions: np.ndarray, values: np.ndarray) -> Node:
    """A node reading ``values = base.flat[positions]`` (PyTorch's AsStridedBackward0):
    ∂L/∂base[i] = Σ of ∂L/∂view over the view's elements at base position i."""
    flat, size, shape = positions.ravel(), base.data.size, base.shape

    def backward(g):
        grad = np.zeros(size, dtype=g.dtype)
        np.add.at(grad, flat, g.ravel())
        return (grad.reshape(shape),)

    return Node("AsStridedBackward0", (graph_input(base),), backward, (), values.shape,
                values.dtype)


# ----------------------------------------------------------------------------- the tensor
class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> x = tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "_requires_grad", "_grad_fn", "_version_counter", "_view",
                 "__weakref__")
    # Make `ndarray + Tensor` call Tensor.__radd__ instead of broadcasting element-wise.
    __array_priority__ = 1000.0

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        self.data = np.array(_as_array(data, dtype), copy=True)
        self._init_graph_fields()
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """A Tensor around ``array`` without copying (for operation outputs)."""
        out = cls.__new__(cls)
        out.data = array if isinstance(array, np.ndarray) else np.asarray(array)
        out._init_graph_fields()
        return out

    def _init_graph_fields(self) -> None:
        self.grad = None
        self._requires_grad = False
        self._grad_fn = None        # the autograd Node that made this tensor; None for leaves
        self._version_counter = VersionCounter()
        self._view = None           # a _View when this tensor shows another one's memory

    def _refresh_view(self) -> None:
        """Remake a view's history if its base changed in place since (see ``_View``)."""
        view = self._view
        if view is not None and view.stamp != self._version_counter.value:
            view.refresh(self)

    # ------------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        if self._view is not None:
            self._refresh_view()
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self.data.dtype not in _FLOAT_DTYPES:
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients, "
                f"this one has dtype {self.data.dtype}"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables; use "
                ".detach() to get a tensor that does not require grad"
            )
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        """The :class:`autograd.Node` that made this tensor (None for a leaf)."""
        if self._view is not None:
            self._refresh_view()
            if self._view.orphaned and is_grad_enabled():
                raise RuntimeError(
                    "A view was created in no_grad mode and its base or another view of its "
                    "base has been modified inplace with grad mode enabled. Given that this "
                    "use case is ambiguous and error-prone, it is forbidden. Make the view "
                    "and the in-place change both inside the no_grad block or both outside."
                )
        return self._grad_fn

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        """How many in-place operations have written to this tensor's memory."""
        return self._version_counter.value

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. "
                "Use tensor.detach().numpy() instead."
            )
        return self.data

    def item(self):
        if self.data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.data.size} elements cannot be converted to Scalar"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph: shares memory and the version counter, as in
        PyTorch (an in-place change through either is seen by both)."""
        out = Tensor._wrap(self.data)
        out._version_counter = self._version_counter
        return out

    def cpu(self) -> "Tensor":
        """This tensor itself: it is already on the CPU."""
        return self

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self.data.size} values is ambiguous"
            )
        return bool(self.data.item())

    def __array__(self, dtype=None, copy=None):
        array = self.data if dtype is None else self.data.astype(dtype)
        return np.array(array, copy=True) if copy else array

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, separator=", ", prefix="tensor(", precision=4,
            floatmode="maxprec_equal" if self.data.dtype.kind == "f" else "maxprec",
        )
        extras = []
        if self.data.dtype not in (float32, int64, bool_):
            extras.append(f"dtype=convgrad.{self.data.dtype}")
        if self.requires_grad and self._view is not None and self._view.orphaned:
            extras.append("grad_fn=<Invalid>")
        elif self._grad_fn is not None:
            extras.append(f"grad_fn={self._grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute ``∂self/∂leaf`` for every leaf that requires grad, adding into ``.grad``.

        ``gradient`` is ``∂L/∂self``; it may be omitted only for a single-element tensor.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, "
                    f"but this tensor has shape {tuple(self.shape)}; pass gradient= explicitly"
                )
            grad = np.ones_like(self.data)
        else:
            grad = _as_array(gradient, self.data.dtype)
            if grad.shape != self.shape:
                raise RuntimeError(
                    f"gradient has shape {tuple(grad.shape)} but the tensor has shape "
                    f"{tuple(self.shape)}: they must match"
                )
        run_backward(self.grad_fn or self, grad, retain_graph=retain_graph)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:     # a leaf keeps its gradient anyway
            self._grad_fn.retained = weakref.ref(self)

    def _accumulate_grad(self, grad: np.ndarray) -> None:
        """``self.grad += grad``, creating ``.grad`` on first use (as PyTorch leaves do)."""
        grad = np.asarray(grad, dtype=self.data.dtype)
        if self.grad is None:
            # Copy: the array may be shared with another tensor's gradient (an addition hands
            # the same upstream gradient to both of its inputs), and later `+=` must not leak.
            self.grad = Tensor._wrap(np.array(grad, copy=True))
        else:
            self.grad.data += grad


# ----------------------------------------------------------------------------- construction
def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (as ``torch.tensor``)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    """``value`` itself if it is a Tensor, else a constant tensor (no copy where possible).

    A Python number becomes a 0-d array of ``like``'s dtype, so ``x * 2`` keeps ``x``'s dtype
    exactly as PyTorch treats scalars.
    """
    if isinstance(value, Tensor):
        return value
    # (a bool tensor is no guide: True + 2 is 3, as in PyTorch, so the scalar keeps its type)
    if (like is not None and isinstance(value, numbers.Number) and not isinstance(value, bool)
            and like.dtype.kind != "b"):
        dtype = like.dtype if like.dtype.kind == "f" or isinstance(value, numbers.Integral) \
            else float32
        return Tensor._wrap(np.asarray(value, dtype=dtype))
    return Tensor._wrap(_as_array(value))


def from_op(data: np.ndarray, inputs: tuple, backward, name: str, saved=None,
            save_output: bool = False) -> Tensor:
    """Wrap ``data`` as the output of an operation on ``inputs`` (Tensors, or None for an
    absent optional input such as a conv without bias).

    The graph node is recorded only when grad mode is on and some input requires grad;
    otherwise ``backward`` (and whatever arrays it closed over) is dropped at once.
    ``saved`` lists the tensors whose values ``backward`` reads — exactly those PyTorch saves
    for this operation (every input when not given) — and ``save_output`` adds the output:
    backward raises if any of them is changed in place before it runs.
    """
    out = Tensor._wrap(data)
    if not is_grad_enabled():
        return out
    edges = tuple([graph_input(t) for t in inputs])
    if all(edge is None for edge in edges):
        return out
    records = tuple([save(t) for t in (inputs if saved is None else saved) if t is not None])
    if save_output:
        records += ((out._version_counter, 0, None),)
    out._grad_fn = Node(name, edges, backward, records, out.data.shape, out.data.dtype)
    out._requires_grad = True
    return out


def view_of(x: Tensor, array: np.ndarray, backward, name: str, replay) -> Tensor:
    """``array``, which shares ``x``'s memory, as a view of ``x``: the output of an operation
    (as :func:`from_op`, saving nothing) that shares ``x``'s version counter and remembers
    ``replay``, the function that makes it from ``x``'s array."""
    out = from_op(array, (x,), backward, name, saved=())
    out._version_counter = counter = x._version_counter
    parent = x._view
    if parent is None:
        out._view = _View(x, replay, counter.value, is_grad_enabled())
    else:
        before = parent.replay
        out._view = _View(parent.base, lambda a: replay(before(a)), counter.value,
                          parent.tracked and is_grad_enabled())
    return out
