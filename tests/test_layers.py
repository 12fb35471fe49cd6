"""The layers contract: imports in src/convgrad go one way (shared/DESIGN.md's architecture).

Every import counts — at the top of a file, inside a function, or
``importlib.import_module("convgrad....")`` with a literal name — read from the source with
``ast``, nothing imported.  The rules:

* layers, lowest first (``LAYERS``): a module imports only its own layer and lower ones —
  kernels import no Tensor; autograd below tensor below ops below functional below nn below
  models and optim; then interop (to and from PyTorch), train, the tools (explain, ...),
  then cli and web;
* data stands alone: it imports nothing of convgrad outside ``convgrad.data``;
* torch is imported only in ``convgrad.interop`` and the torch backend;
* no import cycle anywhere.

``ALLOWED_FOR_NOW`` lists the violations that remain in other people's areas, each with its
reason; the test fails when one is fixed, so that the list only ever shrinks.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src"

# Lowest first; a module belongs to the layer of the longest prefix that names it.
LAYERS = [
    ("foundations", ["convgrad.shapes", "convgrad.kernels", "convgrad.random",
                     "convgrad._memory", "convgrad.data", "convgrad.errors",
                     "convgrad.extras"]),
    ("autograd", ["convgrad.autograd"]),
    ("tensor", ["convgrad.tensor"]),
    ("ops", ["convgrad.ops", "convgrad.creation"]),
    ("functional", ["convgrad.functional"]),
    ("nn", ["convgrad.nn"]),
    ("models and optim", ["convgrad.models", "convgrad.optim", "convgrad.summary"]),
    # Weights and the registry's twin models to and from PyTorch: nn and tensor are all it
    # needs, and the torch backend (convgrad.train.torch_backend) builds on it.
    ("interop", ["convgrad.interop"]),
    ("train", ["convgrad.train"]),
    # The package itself re-exports everything up to here (``convgrad.load_run`` included).
    ("package", ["convgrad"]),
    ("tools", ["convgrad.study", "convgrad.inspect", "convgrad.explain", "convgrad.backend"]),
    ("commands", ["convgrad.cli", "convgrad.web"]),
]
STANDALONE = ["convgrad.data"]
TORCH_ALLOWED = ["convgrad.interop", "convgrad.backend", "convgrad.train.torch_backend"]

# (importer, imported): why it is still there.  Outside the engine core; to be emptied.
ALLOWED_FOR_NOW: dict = {}


# ----------------------------------------------------------------------------- the scanner
def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _absolute(module: str | None, importer: str, is_package: bool, level: int) -> str:
    if not level:
        return module or ""
    base = importer.split(".")
    if not is_package:
        base = base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _literal_import(node: ast.Call) -> str | None:
    """The name in ``importlib.import_module("x")`` or ``__import__("x")``, if literal."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("import_module", "__import__") and node.args \
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def import_graph(root: Path) -> dict[str, set[str]]:
    """{module: the convgrad modules and top-level packages (torch, ...) it imports}."""
    files = {}
    for path in sorted((root / "convgrad").rglob("*.py")):
        name, is_package = _module_name(path, root)
        files[name] = (path, is_package)
    graph = {}
    for importer, (path, is_package) in files.items():
        imported = graph.setdefault(importer, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module, importer, is_package, node.level)
                # `from pkg import sub` imports the module pkg.sub when there is one.
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                         for alias in node.names]
            elif isinstance(node, ast.Call) and _literal_import(node):
                names = [_literal_import(node)]
            else:
                continue
            for name in names:
                imported.add(name if name.startswith("convgrad") else name.split(".")[0])
    return graph


def _within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _within(module, [prefix]) and len(prefix) > best:
                best, rank = len(prefix), index
    if rank is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")
    return rank


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (or one importing itself)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for start in graph:            # Tarjan's algorithm, iteratively
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph[node]:
                    found.append(sorted(group))
    return found


def violations(graph: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """{(importer, imported): the rule it breaks} for the layer, data and torch rules."""
    found = {}
    for importer, imported in graph.items():
        for name in imported:
            if not name.startswith("convgrad"):
                if name == "torch" and not _within(importer, TORCH_ALLOWED):
                    found[(importer, name)] = "torch outside interop/ and the torch backend"
                continue
            if _within(importer, STANDALONE) and not _within(name, STANDALONE):
                found[(importer, name)] = "data stands alone"
            elif layer_of(name) > layer_of(importer):
                found[(importer, name)] = (f"layer {LAYERS[layer_of(importer)][0]!r} imports "
                                           f"layer {LAYERS[layer_of(name)][0]!r}")
    return found


# ----------------------------------------------------------------------------- the contract
@pytest.fixture(scope="module")
def graph():
    return import_graph(SOURCE)


def test_no_import_cycle_anywhere(graph):
    assert cycles(graph) == []


def test_every_import_goes_down_the_layers(graph):
    found = violations(graph)
    unexpected = {edge: rule for edge, rule in found.items() if edge not in ALLOWED_FOR_NOW}
    assert unexpected == {}, "\n".join(f"{a} imports {b}: {rule}"
                                       for (a, b), rule in sorted(unexpected.items()))
    fixed = sorted(set(ALLOWED_FOR_NOW) - set(found))
    assert fixed == [], f"fixed, remove from ALLOWED_FOR_NOW: {fixed}"


def test_every_module_has_a_layer(graph):
    for module in graph:
        layer_of(module)


# ----------------------------------------------------------------------------- the checker
def _write(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / "convgrad" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_checker_sees_imports_inside_functions_and_import_module(tmp_path):
    root = _write(tmp_path, {
        "__init__.py": "",
        "tensor.py": "from .autograd import x\n",
        "autograd.py": "def f():\n    from .tensor import Tensor\n",
        "kernels/__init__.py": "",
        "kernels/conv.py": ("import importlib\n"
                            "def g():\n    importlib.import_module('convgrad.tensor')\n"),
        "data/__init__.py": "import torch\nfrom ..nn import Module\n",
        "nn/__init__.py": "",
    })
    graph = import_graph(root)
    assert cycles(graph) == [["convgrad.autograd", "convgrad.tensor"]]
    assert set(violations(graph)) == {
        ("convgrad.autograd", "convgrad.tensor"), ("convgrad.kernels.conv", "convgrad.tensor"),
        ("convgrad.data", "torch"), ("convgrad.data", "convgrad.nn")}
