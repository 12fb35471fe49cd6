// The text views drawn from an API answer: the output-size derivation, one window's products
// and sum, one gradient's contributions, the dense comparison and the engine check. Every
// number shown is a field of the answer; this file only lays them out.
import { element, fmt, indexText } from './grids.js';

function code(text, className = '') {
  return element('code', className, text);
}

// ------------------------------------------------------------------ output size
export function renderSize(container, formulaLine, trace) {
  formulaLine.replaceChildren(element('span', 'label', 'Formula '), code(trace.formula));
  container.replaceChildren();
  for (const axis of trace.axes) {
    const line = element('div', 'axis-line');
    const name = element('span', 'axis-name', `${axis.axis}_out`);
    line.append(name, element('span', 'eq', ' = '), code(axis.formula, 'symbolic'));
    const values = element('div', 'axis-values');
    values.append(element('span', 'eq', '= '), code(axis.substituted, 'substituted'));
    line.append(values);
    if (axis.notes && axis.notes.length) {
      const notes = element('ul', 'notes');
      for (const note of axis.notes) notes.append(element('li', '', note));
      line.append(notes);
    }
    container.append(line);
  }
  const shape = element('div', 'axis-line shape-line');
  shape.append(element('span', 'label', 'Output shape '), code(trace.output_shape.join(' × ')),
    element('span', 'sub', trace.dims === 2 ? ' (C_out × H_out × W_out)' : ' (C_out × L_out)'));
  container.append(shape);
}

// ------------------------------------------------------------------ one window
function chip({ top, bottom, title, classes, onEnter, onLeave }) {
  const el = element('span', `chip ${classes || ''}`.trim());
  el.append(element('span', 'chip-top', top));
  if (bottom !== undefined) el.append(element('span', 'chip-bottom', bottom));
  if (title) el.title = title;
  el.tabIndex = 0;
  el.addEventListener('mouseenter', onEnter);
  el.addEventListener('focus', onEnter);
  el.addEventListener('mouseleave', onLeave);
  el.addEventListener('blur', onLeave);
  return el;
}

function cellName(cell) {
  if (cell.kind === 'padding') {
    return cell.source ? `padding ${indexText('x', cell.index)}, a copy of ${indexText('x', cell.source)}`
      : `padding ${indexText('x', cell.index)}`;
  }
  if (cell.kind === 'outside') return `${indexText('x', cell.index)}: past the padded edge, ignored`;
  return indexText('x', cell.index);
}

function paren(value) {
  const text = fmt(value);
  return text.startsWith('−') ? `(${text})` : text;
}

export function renderWindow(container, trace, win, position, total, hover) {
  container.replaceChildren();
  if (!win) return;
  const head = element('div', 'window-head');
  head.append(element('span', 'window-title', `${indexText('y', win.output_index)} = ${fmt(win.value)}`));
  head.append(element('span', 'sub', `output ${position + 1} of ${total}`));
  if (win.group !== null && trace.params.groups > 1) {
    head.append(element('span', 'sub', `group ${win.group}`));
  }
  container.append(head);
  const isPool = trace.weight === null;
  const terms = element('div', 'terms');
  let lastChannel = null;
  win.terms.forEach((term, k) => {
    const channel = term.input.index[0];
    if (!isPool && channel !== lastChannel && trace.input_shape[0] > 1) {
      terms.append(element('span', 'channel-tag', `c=${channel}`));
      lastChannel = channel;
    }
    if (k > 0) terms.append(element('span', 'op', isPool ? ',' : '+'));
    const classes = [term.input.kind];
    if (isPool && win.winner === k) classes.push('winner');
    const enter = () => hover({ input: term.input, weight: term.weight_index });
    const leave = () => hover(null);
    if (isPool) {
      terms.append(chip({
        top: fmt(term.input.value), title: cellName(term.input), classes: classes.join(' '),
        onEnter: enter, onLeave: leave,
      }));
    } else {
      terms.append(chip({
        top: `${paren(term.input.value)} × ${paren(term.weight_value)}`,
        bottom: `= ${fmt(term.product)}`,
        title: `${cellName(term.input)} · ${indexText('w', term.weight_index)}`,
        classes: classes.join(' '), onEnter: enter, onLeave: leave,
      }));
    }
  });
  if (!win.terms.length) {
    terms.append(element('span', 'empty', 'no input cell lands on this output'));
  }
  container.append(terms);

  const result = element('div', 'result');
  if (trace.op.startsWith('max_pool')) {
    result.append(element('span', '', `max = ${fmt(win.value)}`));
    if (win.winner !== null) {
      const w = win.terms[win.winner];
      result.append(element('span', 'sub', ` (from ${cellName(w.input)}; ties go to the first)`));
    }
  } else if (trace.op.startsWith('avg_pool')) {
    result.append(element('span', '', `Σ = ${fmt(win.sum)},  ÷ ${fmt(win.divisor)}  = ${fmt(win.value)}`));
    result.append(element('div', 'sub', win.divisor_reason));
  } else {
    let text = `Σ products = ${fmt(win.sum)}`;
    if (win.bias !== null) text += `,  + bias ${fmt(win.bias)}`;
    text += `  →  ${indexText('y', win.output_index)} = ${fmt(win.value)}`;
    result.append(element('span', '', text));
  }
  container.append(result);
}

// ------------------------------------------------------------------ one gradient
export function renderGradient(container, trace, pick, gradient, hover) {
  container.replaceChildren();
  const back = trace.backward;
  if (!pick || !gradient) {
    const hint = trace.weight
      ? 'Pick a weight (click a kernel cell or a ∂L/∂w cell) to see every input cell it multiplies and every output it feeds, and its gradient as the sum of those uses. Pick an input cell for its own gradient.'
      : 'Pooling has no weights. Pick an input cell (or a ∂L/∂x cell) to see which outputs send it gradient.';
    container.append(element('p', 'hint', hint));
    return;
  }
  const head = element('div', 'window-head');
  const name = pick.kind === 'weight' ? 'w' : pick.kind === 'bias' ? 'b' : 'x';
  head.append(element('span', 'window-title', `${indexText(name, gradient.index)} = ${fmt(gradient.value)}`));
  const uses = gradient.contributions.length;
  if (pick.kind === 'weight') {
    head.append(element('span', 'sub', `used ${uses} time${uses === 1 ? '' : 's'}: each use multiplies one input cell into one output (both highlighted)`));
  } else if (pick.kind === 'bias') {
    head.append(element('span', 'sub', `added to all ${uses} outputs of channel ${gradient.index[0]}`));
  } else {
    head.append(element('span', 'sub', `reaches ${uses} output${uses === 1 ? '' : 's'}`));
  }
  container.append(head);
  const formula = back.formulas[pick.kind];
  if (formula) {
    const line = element('div', 'formula-line');
    line.append(code(formula));
    container.append(line);
  }

  const terms = element('div', 'terms');
  gradient.contributions.forEach((c, k) => {
    if (k > 0) terms.append(element('span', 'op', '+'));
    const factorName = pick.kind === 'weight' ? (c.input ? cellName(c.input) : 'x')
      : pick.kind === 'bias' ? '1'
        : (c.weight_index ? indexText('w', c.weight_index) : trace.op.startsWith('max') ? '1 (the maximum)' : '1/N');
    terms.append(chip({
      top: `${paren(c.grad_output)} × ${paren(c.factor)}`,
      bottom: `= ${fmt(c.product)}`,
      title: `∂L/∂${indexText('y', c.output_index)} · ${factorName}`,
      classes: c.input ? c.input.kind : '',
      onEnter: () => hover({ output: c.output_index, input: c.input, weight: c.weight_index }),
      onLeave: () => hover(null),
    }));
  });
  if (!uses) terms.append(element('span', 'empty', 'no output depends on it: its gradient is 0'));
  container.append(terms);
  container.append(element('div', 'result',
    `∂L/∂${indexText(name, gradient.index)} = ${fmt(gradient.total)}`));
}

// ------------------------------------------------------------------ conv vs dense
export function renderDense(container, counts) {
  container.replaceChildren();
  const { layer, dense } = counts;
  container.append(element('p', 'hint', 'A fully connected layer from the same d1 inputs to the same d2 outputs, beside this one.'));
  const table = element('table', 'dense-table');
  const head = element('tr');
  head.append(element('th', '', ''), element('th', '', `this ${layer.kind} layer`), element('th', '', 'dense layer'));
  const rows = [
    ['inputs d1', '', dense.d1.formula],
    ['outputs d2', '', dense.d2.formula],
    ['weights', layer.weights.formula, dense.weights.formula],
    ['biases', String(layer.bias), String(dense.bias)],
    ['parameters', String(layer.total), String(dense.total)],
    ['multiplications', layer.multiplies.formula, dense.multiplies.formula],
  ];
  const thead = element('thead');
  thead.append(head);
  const tbody = element('tbody');
  for (const [label, a, b] of rows) {
    const tr = element('tr', label === 'parameters' ? 'total' : '');
    tr.append(element('th', '', label), element('td', '', a), element('td', '', b));
    tbody.append(tr);
  }
  table.append(thead, tbody);
  const wrap = element('div', 'table-wrap');
  wrap.append(table);
  container.append(wrap);
  container.append(element('p', 'ratio', counts.ratio_text));
  container.append(element('p', 'hint', layer.note));
}

// ------------------------------------------------------------------ the engine's check
export function renderEngine(el, engine) {
  el.className = 'engine';
  if (engine.error) {
    el.classList.add('bad');
    el.textContent = `${engine.function} raised ${engine.error}`;
    return;
  }
  const worst = engine.largest_difference;
  el.classList.add(engine.agrees ? 'good' : 'bad');
  el.textContent = engine.agrees
    ? `✓ ${engine.function} agrees (output and gradients, max |Δ| = ${fmt(worst)})`
    : `✗ ${engine.function} differs by up to ${fmt(worst)}`;
  el.title = `The same values through convgrad's engine: ${JSON.stringify(engine.max_abs_difference)}`;
}

