"""A trace, printed for a person: aligned grids and tables with rich.

Everything printed comes from the ``Trace``; nothing is recomputed here except sums of
lengths for layout.  Padding cells are written in square brackets (``[0]``, ``[-∞]``) and
dimmed, so they stand out with and without colour; the winning cell of a max-pooling window
is in bold; numbers are as short as they can be (``1``, ``-0.5``, ``0.3333``).
"""
from __future__ import annotations

import math

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from . import formulas
from .model import Cell, Trace

PADDING_STYLE = "dim"
LABEL_STYLE = "dim cyan"
TITLE_STYLE = "italic"


# ------------------------------------------------------------------ numbers and indices
def fmt(value) -> str:
    """A number as short as it can be written: 1, -0.5, 0.3333, -∞."""
    if value is None:
        return "·"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def factor(value) -> str:
    """A number inside a product: negative ones in parentheses, ``2·(-1)``."""
    text = fmt(value)
    return f"({text})" if text.startswith("-") else text


def cell_value(cell: Cell) -> str:
    """A cell's value, in brackets when it is padding."""
    if cell.kind == "padding":
        return f"[{fmt(cell.value)}]"
    return fmt(cell.value) if cell.kind == "input" else "·"


class Indexer:
    """Writes indices the short way: the channel is left out when there is only one."""

    def __init__(self, trace: Trace):
        self.in_channels = trace.input_shape[0]
        self.out_channels = trace.output_shape[0]
        self.weight_shape = trace.weight_shape

    @staticmethod
    def _join(values) -> str:
        return ", ".join(str(v) for v in values)

    def x(self, index) -> str:
        return f"x[{self._join(index if self.in_channels > 1 else index[1:])}]"

    def y(self, index) -> str:
        return f"y[{self._join(index if self.out_channels > 1 else index[1:])}]"

    def w(self, index) -> str:
        single = self.weight_shape[0] == 1 and self.weight_shape[1] == 1
        return f"w[{self._join(index[2:] if single else index)}]"

    def b(self, index) -> str:
        return f"b[{index[0]}]"


# ------------------------------------------------------------------ grids
# A grid wider than the terminal is never squeezed (rich would print "…" for the columns that
# do not fit): it is cut into blocks of whole columns, one under the other, each titled with
# the columns it holds.
GRID_GAP = 4  # spaces between grids printed side by side


def _as_rows(values, kinds):
    """A 1D or 2D array (and its kinds) as 2D object arrays, with the row labels."""
    values = np.asarray(values, dtype=object)
    kinds = None if kinds is None else np.asarray(kinds, dtype=object)
    if values.ndim == 1:
        return values[None, :], None if kinds is None else kinds[None, :], None
    return values, kinds, values.shape[0]


def _cell_text(value, kind) -> str:
    return f"[{fmt(value)}]" if kind == "padding" else fmt(value)


def grid(title: str | None, values, kinds=None, origin=(0, 0), bold=None,
         columns: range | None = None) -> Table:
    """One 1D or 2D array as an aligned table with its indices along the edges (only the
    ``columns`` given, all by default)."""
    values, kinds, rows = _as_rows(values, kinds)
    row_labels = [""] if rows is None else [str(origin[0] + r) for r in range(rows)]
    col_origin = origin[-1]
    columns = range(values.shape[1]) if columns is None else columns
    table = Table(title=title, title_justify="left", box=None, show_edge=False,
                  pad_edge=False, padding=(0, 1), header_style=LABEL_STYLE)
    table.add_column("", style=LABEL_STYLE, justify="right", overflow="fold")
    for c in columns:
        table.add_column(str(col_origin + c), justify="right", overflow="fold")
    for r in range(values.shape[0]):
        row = [Text(row_labels[r], style=LABEL_STYLE)]
        for c in columns:
            kind = None if kinds is None else kinds[r, c]
            style = (PADDING_STYLE if kind == "padding" else
                     "bold" if bold is not None and bold[r][c] else "")
            row.append(Text(_cell_text(values[r, c], kind), style=style))
        table.add_row(*row)
    return table


def column_blocks(values, kinds, origin, width: int) -> list:
    """The columns of a grid cut into consecutive ranges whose tables are at most ``width``
    wide: a table is as wide as its row labels plus, per column, its widest entry and 2."""
    values, kinds, rows = _as_rows(values, kinds)
    label = 0 if rows is None else max(len(str(origin[0] + r)) for r in range(rows))
    widths = [max([len(str(origin[-1] + c))] + [
        len(_cell_text(values[r, c], None if kinds is None else kinds[r, c]))
        for r in range(values.shape[0])]) + 2 for c in range(values.shape[1])]
    blocks, start, used = [], 0, label
    for c, w in enumerate(widths):
        if c > start and used + w > width:
            blocks.append(range(start, c))
            start, used = c, label
        used += w
    blocks.append(range(start, len(widths)))
    return blocks


def grids(console: Console, title: str, array, names: "_Names", kinds=None,
          origin=(0, 0)) -> None:
    """An array of shape (..., *spatial) as one grid per leading index, as many side by side
    as the terminal's width holds; a grid wider than the terminal in blocks of columns."""
    array = np.asarray(array, dtype=object)
    leading = array.shape[:array.ndim - names.spatial]
    tables = []
    for lead in np.ndindex(leading):
        values = array[lead]
        lead_kinds = None if kinds is None else np.asarray(kinds, dtype=object)[lead]
        name = names(lead)
        blocks = column_blocks(values, lead_kinds, origin, console.width)
        for block in blocks:
            block_title = name
            if len(blocks) > 1:
                block_title = (f"{name + ', ' if name else ''}columns {origin[-1] + block[0]} to "
                               f"{origin[-1] + block[-1]} of {origin[-1]} to "
                               f"{origin[-1] + values.shape[-1] - 1}"
                               + (", more below" if block[-1] < values.shape[-1] - 1
                                  else ""))
            table = grid(None, values, lead_kinds, origin, columns=block)
            # the title above the table (a table's own title would wrap to its width)
            tables.append(table if block_title is None else
                          Group(Text(block_title, style=TITLE_STYLE), table))
    console.print(Text(title, style="bold"))
    line, used = [], 0
    for table in tables:
        width = console.measure(table).maximum
        if line and used + GRID_GAP + width > console.width:
            _print_line(console, line)
            line, used = [], 0
        line.append(table)
        used += width + (GRID_GAP if len(line) > 1 else 0)
    _print_line(console, line)
    console.print()


def print_table(console: Console, table: Table) -> None:
    """A table whose cells wrap inside their column when the terminal is narrow, instead of
    being cut to "…"."""
    for column in table.columns:
        column.overflow = "fold"
    console.print(table)


def _print_line(console: Console, tables: list) -> None:
    row = Table.grid(padding=(0, GRID_GAP))
    for _ in tables:
        row.add_column()
    row.add_row(*tables)
    console.print(row)


class _Names:
    """Titles for the grids of one array: ``x[0]``, ``w[1, 0]`` (or just the name)."""

    def __init__(self, name: str, spatial: int, show_leading: bool):
        self.name, self.spatial, self.show_leading = name, spatial, show_leading

    def __call__(self, lead) -> str | None:
        if not self.show_leading or not lead:
            return None
        return f"{self.name}[{', '.join(str(i) for i in lead)}]"


# ------------------------------------------------------------------ sections
def header(console: Console, trace: Trace) -> None:
    p = trace.params
    shapes_ = [f"input {'×'.join(map(str, trace.input_shape))}"]
    if trace.weight_shape:
        shapes_.append(f"weight {'×'.join(map(str, trace.weight_shape))}")
    if trace.bias is not None:
        shapes_.append(f"bias {len(trace.bias)}")
    shapes_.append(f"output {'×'.join(map(str, trace.output_shape))}")

    def axes_text(values):
        values = tuple(values)
        return str(values[0]) if len(set(values)) == 1 else ",".join(map(str, values))

    settings = []
    for key in ("kernel_size", "stride"):
        if key in p:
            settings.append(f"{key}={axes_text(p[key])}")
    if "padding" in p:
        pads = p["padding"]
        if isinstance(p.get("padding_arg"), str):
            settings.append(f"padding='{p['padding_arg']}'")
        elif all(a == b for a, b in pads):
            settings.append(f"padding={axes_text(a for a, _ in pads)}")
    for key in ("output_padding", "dilation"):
        if key in p:
            settings.append(f"{key}={axes_text(p[key])}")
    if "groups" in p:
        settings.append(f"groups={p['groups']}")
    if p.get("padding_mode", "zeros") != "zeros":
        settings.append(f"padding_mode='{p['padding_mode']}'")
    for key in ("ceil_mode", "count_include_pad"):
        if key in p:
            settings.append(f"{key}={p[key]}")
    if p.get("divisor_override") is not None:
        settings.append(f"divisor_override={p['divisor_override']}")
    console.print(Text(trace.op, style="bold magenta"), Text("  " + " · ".join(shapes_)))
    console.print(Text("  " + ", ".join(settings), style="dim"))
    console.print(Text("  " + trace.formula))
    console.print()


def output_sizes(console: Console, trace: Trace) -> None:
    console.print(Text("Output size", style="bold"))
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    for axis in trace.axes:
        table.add_row(f"{axis.axis}:", Text(f"{axis.formula} = {axis.substituted}"))
        for note in axis.notes:
            table.add_row("", Text(f"({note})", style="dim"))
    print_table(console, table)
    console.print()


def arrays(console: Console, trace: Trace) -> None:
    spatial = trace.dims
    many_in = trace.input_shape[0] > 1
    if trace.padded_input is not None:
        padded = trace.padded_input
        mode = trace.params.get("padding_mode", "zeros")
        what = {"zeros": "0", "reflect": "reflected copies", "replicate": "copies of the edge",
                "circular": "wrapped-around copies"}.get(mode, "0")
        if trace.op.startswith("max_pool"):
            what = "-∞"
        grids(console, f"Input x, padded ([·] = padding: {what})", padded.values,
              _Names("x", spatial, many_in), padded.kinds, padded.origin)
    else:
        grids(console, "Input x", trace.input, _Names("x", spatial, many_in))
    if trace.weight is not None:
        layout = ("(out, in) channels" if not trace.op.startswith("conv_transpose")
                  else "(in, out) channels")
        many_w = trace.weight_shape[0] > 1 or trace.weight_shape[1] > 1
        grids(console, f"Weight w" + (f", one kernel per {layout}" if many_w else ""),
              trace.weight, _Names("w", spatial, many_w))
    if trace.bias is not None:
        console.print(Text("Bias b: ", style="bold"),
                      Text("  ".join(f"b[{o}] = {fmt(v)}" for o, v in enumerate(trace.bias))))
        console.print()
    grids(console, "Output y", trace.output, _Names("y", spatial, trace.output_shape[0] > 1))


def _span(cells, axis: int) -> str:
    positions = sorted({c.index[axis] for c in cells})
    if len(positions) == 1:
        return str(positions[0])
    step = positions[1] - positions[0]
    regular = all(b - a == step for a, b in zip(positions, positions[1:]))
    text = f"{positions[0]}..{positions[-1]}"
    return text + (f" by {step}" if regular and step > 1 else "") if regular else ",".join(
        map(str, positions))


def window_region(window, ix: Indexer, transposed: bool) -> str:
    cells = [t.input for t in window.terms if t.input.kind != "outside"]
    if not cells:
        return "(nothing lands here)"
    if transposed:
        shown = " ".join(ix.x(c.index) for c in cells[:6])
        return shown + (f" and {len(cells) - 6} more" if len(cells) > 6 else "")
    axes = range(0 if ix.in_channels > 1 else 1, len(cells[0].index))
    return f"x[{', '.join(_span(cells, a) for a in axes)}]"


def _products(window) -> str:
    """``x·w + x·w + …``, one parenthesised group per input channel when there are several."""
    groups: dict = {}
    for t in window.terms:
        x = cell_value(t.input) if t.input.kind == "padding" else factor(t.input.value)
        groups.setdefault(t.input.index[0], []).append(f"{x}·{factor(t.weight_value)}")
    if not groups:
        return "0"
    if len(groups) == 1:
        return " + ".join(next(iter(groups.values())))
    return " + ".join(f"({' + '.join(terms)})" for terms in groups.values())


def _pool_cells(window) -> str:
    cells = [t.input for t in window.terms if t.input.kind != "outside"]
    return ", ".join(cell_value(c) for c in cells)


def windows_table(console: Console, trace: Trace, chosen) -> None:
    ix = Indexer(trace)
    transposed = trace.op.startswith("conv_transpose")
    kind = "max" if trace.op.startswith("max") else "avg" if trace.op.startswith("avg") else "conv"
    title = {"conv": "Windows: each output is the sum of its products (x·w)",
             "max": "Windows: each output is the largest cell of its window",
             "avg": "Windows: each output is the sum of its window over the divisor"}[kind]
    if transposed:
        title = ("Outputs: each output gathers the products x·w scattered onto it "
                 "(input i lands on i·s − p + τ·d)")
    console.print(Text(title, style="bold"))
    table = Table(show_lines=False)
    table.add_column("output")
    table.add_column("inputs" if transposed else "window")
    if kind == "conv":
        table.add_column("products x·w", overflow="fold")
        table.add_column("sum", justify="right")
        if trace.bias is not None:
            table.add_column("+ b", justify="right")
            table.add_column("= y", justify="right")
    elif kind == "max":
        table.add_column("cells", overflow="fold")
        table.add_column("winner")
        table.add_column("= y", justify="right")
    else:
        table.add_column("sum of cells", overflow="fold")
        table.add_column("÷ divisor (why)", overflow="fold")
        table.add_column("= y", justify="right")
    for window in chosen:
        region = window_region(window, ix, transposed)
        if kind == "conv":
            row = [ix.y(window.output_index), region, _products(window), fmt(window.sum)]
            if trace.bias is not None:
                row += [fmt(window.bias), fmt(window.value)]
        elif kind == "max":
            winner = window.terms[window.winner].input if window.winner is not None else None
            row = [ix.y(window.output_index), region, _pool_cells(window),
                   "" if winner is None else f"{ix.x(winner.index)} = {cell_value(winner)}",
                   fmt(window.value)]
        else:
            row = [ix.y(window.output_index), region,
                   f"{_pool_cells(window)}  → {fmt(window.sum)}",
                   f"{fmt(window.divisor)} ({window.divisor_reason})", fmt(window.value)]
        table.add_row(*[Text(str(v)) for v in row])
    print_table(console, table)
    console.print(Text("  [v] = padding cell", style="dim") if trace.padded_input is not None
                  else "")


def _cell_note(cell: Cell, ix: Indexer, trace: Trace) -> str:
    if cell.kind == "input":
        return ""
    if cell.kind == "outside":
        return "past the padded edge (ceil_mode): ignored"
    if cell.source is not None:
        return f"padding: {trace.params.get('padding_mode')} of {ix.x(cell.source)}"
    return "padding"


def window_detail(console: Console, trace: Trace, window) -> None:
    """One output, product by product."""
    ix = Indexer(trace)
    kind = "max" if trace.op.startswith("max") else "avg" if trace.op.startswith("avg") else "conv"
    table = Table(title=f"{ix.y(window.output_index)} step by step", title_justify="left",
                  title_style="bold")
    table.add_column("tap " + ",".join(formulas.TAP_VARS[trace.dims]))
    table.add_column("input cell")
    table.add_column("x", justify="right")
    if kind == "conv":
        table.add_column("weight")
        table.add_column("w", justify="right")
        table.add_column("x·w", justify="right")
    table.add_column("note")
    for k, term in enumerate(window.terms):
        cell = term.input
        note = _cell_note(cell, ix, trace)
        if kind == "max" and k == window.winner:
            note = "winner" + (f" ({note})" if note else "")
        row = [",".join(map(str, term.tap)), ix.x(cell.index), cell_value(cell)]
        if kind == "conv":
            row += [ix.w(term.weight_index), fmt(term.weight_value), fmt(term.product)]
        row.append(note)
        style = "bold" if kind == "max" and k == window.winner else (
            PADDING_STYLE if cell.kind != "input" else "")
        table.add_row(*[Text(v) for v in row], style=style)
    print_table(console, table)
    if kind == "conv":
        if not window.terms:
            console.print("  no input lands on this output")
        line = f"  sum of products = {fmt(window.sum)}"
        if window.bias is not None:
            line += f";  + bias {fmt(window.bias)}"
        console.print(Text(line + f";  {ix.y(window.output_index)} = {fmt(window.value)}"))
    elif kind == "max":
        console.print(Text(f"  {ix.y(window.output_index)} = max = {fmt(window.value)}  "
                           f"(ties go to the first cell in scan order)"))
    else:
        console.print(Text(f"  sum = {fmt(window.sum)};  divisor {fmt(window.divisor)}: "
                           f"{window.divisor_reason};  {ix.y(window.output_index)} = "
                           f"{fmt(window.sum)} / {fmt(window.divisor)} = {fmt(window.value)}"))
    console.print()


def backward_section(console: Console, trace: Trace) -> None:
    back = trace.backward
    ix = Indexer(trace)
    spatial = trace.dims
    console.print(Text("Backward pass", style="bold magenta"))
    grids(console, "Upstream gradient ∂L/∂y", back.grad_output,
          _Names("∂L/∂y", spatial, trace.output_shape[0] > 1))
    if back.weight is not None:
        console.print(Text("Weight gradient: " + back.formulas["weight"], style="bold"))
        console.print(Text("  every use of a weight adds ∂L/∂y · x into its gradient "
                           "([v] = padding cell)", style="dim"))
        table = Table(show_lines=False)
        table.add_column("weight")
        table.add_column("uses", justify="right")
        table.add_column("Σ ∂L/∂y·x", overflow="fold")
        table.add_column("= ∂L/∂w", justify="right")
        for gradient in back.weight:
            terms = " + ".join(
                f"{factor(c.grad_output)}·"
                f"{cell_value(c.input) if c.input.kind == 'padding' else factor(c.factor)}"
                for c in gradient.contributions) or "0"
            table.add_row(ix.w(gradient.index), str(len(gradient.contributions)), Text(terms),
                          fmt(gradient.total))
        print_table(console, table)
        many_w = trace.weight_shape[0] > 1 or trace.weight_shape[1] > 1
        grids(console, "∂L/∂w", back.grad_weight, _Names("∂L/∂w", spatial, many_w))
    if back.bias is not None:
        console.print(Text("Bias gradient: " + back.formulas["bias"], style="bold"))
        table = Table()
        table.add_column("bias")
        table.add_column("Σ ∂L/∂y", overflow="fold")
        table.add_column("= ∂L/∂b", justify="right")
        for gradient in back.bias:
            terms = " + ".join(factor(c.grad_output) for c in gradient.contributions)
            table.add_row(ix.b(gradient.index), Text(terms), fmt(gradient.total))
        print_table(console, table)
        console.print()
    pooling = trace.weight is None
    console.print(Text("Input gradient: " + back.formulas["input"], style="bold"))
    table = Table()
    table.add_column("input")
    header = ("Σ ∂L/∂y·w" if not pooling else
              "Σ ∂L/∂y (windows it wins)" if trace.op.startswith("max") else "Σ ∂L/∂y / N")
    table.add_column(header, overflow="fold")
    table.add_column("= ∂L/∂x", justify="right")
    for gradient in back.input:
        parts = []
        for c in gradient.contributions:
            if not pooling:
                text = f"{factor(c.grad_output)}·{factor(c.factor)}"
            elif trace.op.startswith("max"):
                text = f"{factor(c.grad_output)} (won {ix.y(c.output_index)})"
            else:
                text = f"{factor(c.grad_output)}/{fmt(round(1 / c.factor, 12))}"
            if c.input.kind == "padding":
                text += f" (via {ix.x(c.input.index)})"
            parts.append(text)
        unused = ("0 (wins no window)" if trace.op.startswith("max") else
                  "0 (in no window)" if pooling else "0 (no output uses it)")
        table.add_row(ix.x(gradient.index), Text(" + ".join(parts) or unused),
                      fmt(gradient.total))
    print_table(console, table)
    grids(console, "∂L/∂x", back.grad_input, _Names("∂L/∂x", spatial, trace.input_shape[0] > 1))


def render(trace: Trace, console: Console | None = None, at=None,
           show_backward: bool = False) -> None:
    """Print ``trace``: settings, output-size derivation, arrays, windows (all, or those at
    the output position ``at``) and, with ``show_backward``, the gradients."""
    console = console or Console()
    header(console, trace)
    output_sizes(console, trace)
    arrays(console, trace)
    if at is None:
        windows_table(console, trace, trace.windows)
    else:
        for window in trace.windows_at(at):
            window_detail(console, trace, window)
    if show_backward and trace.backward is not None:
        console.print()
        backward_section(console, trace)
