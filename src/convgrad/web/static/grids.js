// Grids of cells (input, kernel, output, gradients) drawn from the API's nested lists, and the
// registry that finds a cell by its index to highlight it. Numbers are formatted (and a user's
// typed value read) here, the same way for the layer view and image mode.

// A number as short as it reads well: 1, -0.5, 0.333, −∞ (the API writes ±inf/nan as strings).
export function fmt(value) {
  if (value === null || value === undefined) return '·';
  if (value === '-inf') return '−∞';
  if (value === 'inf') return '∞';
  if (value === 'nan') return 'NaN';
  if (Number.isInteger(value)) return String(value).replace('-', '−');
  const abs = Math.abs(value);
  let text;
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) text = value.toExponential(2);
  else text = String(Number(value.toFixed(abs < 1 ? 3 : 2)));
  return text.replace('-', '−');
}

// "2", "-0.5", "1e-3" or a fraction "1/9" (a user's input, read as they wrote it); null for
// anything else: "0x10", "Infinity", "1/0" and the empty string included.
export function parseNumber(text) {
  const t = text.trim().replace('−', '-');
  const fraction = /^(-?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(t);
  if (fraction && Number(fraction[2]) !== 0) return Number(fraction[1]) / Number(fraction[2]);
  if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t)) return null;
  const value = Number(t);
  return Number.isFinite(value) ? value : null;
}

export function indexText(name, index) {
  return `${name}[${index.join(', ')}]`;
}

export function keyOf(role, index) {
  return `${role}:${index.join(',')}`;
}

// Cells by key ("x:0,-1,2"), to highlight them without searching the page.
export class Registry {
  constructor() { this.cells = new Map(); this.marked = new Map(); }
  clear() { this.cells.clear(); this.marked.clear(); }
  add(key, element) { this.cells.set(key, element); }
  mark(key, className) {
    const el = this.cells.get(key);
    if (!el) return null;
    el.classList.add(className);
    if (!this.marked.has(className)) this.marked.set(className, new Set());
    this.marked.get(className).add(el);
    return el;
  }
  unmark(classes) {
    for (const className of classes) {
      const set = this.marked.get(className);
      if (!set) continue;
      for (const el of set) el.classList.remove(className);
      set.clear();
    }
  }
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}
export { element };

// One 2D block of cells with row and column labels.
//   rows, cols: sizes; rowLabel(r), colLabel(c): the coordinates printed beside them;
//   cell(r, c) -> {index, value, kind, title, source}
export function gridBlock({ title, rows, cols, rowLabel, colLabel, cell, role, registry, oneRow }) {
  const block = element('div', 'grid-block');
  if (title) block.append(element('div', 'grid-title', title));
  const grid = element('div', 'grid');
  grid.style.gridTemplateColumns = `auto repeat(${cols}, var(--cell))`;
  grid.append(element('span', 'axis corner', ''));
  for (let c = 0; c < cols; c++) grid.append(element('span', 'axis col', String(colLabel(c)).replace('-', '−')));
  for (let r = 0; r < rows; r++) {
    grid.append(element('span', 'axis row', oneRow ? '' : String(rowLabel(r)).replace('-', '−')));
    for (let c = 0; c < cols; c++) {
      const info = cell(r, c);
      const el = element('div', `cell ${info.kind || ''}`.trim());
      const text = fmt(info.value);
      el.textContent = text;
      if (text.length > 4) el.classList.add('long');
      if (text.length > 6) el.classList.add('longer');
      el.dataset.key = keyOf(role, info.index);
      el.dataset.role = role;
      el.dataset.index = info.index.join(',');
      el.dataset.value = String(info.value);
      if (info.source) el.dataset.source = info.source.join(',');
      // the exact value on hover: cells show it rounded
      const exact = typeof info.value === 'number' && text !== String(info.value) ? ` = ${info.value}` : '';
      el.title = (info.title || `${role}[${info.index.join(', ')}]`) + exact;
      registry.add(el.dataset.key, el);
      grid.append(el);
    }
  }
  block.append(grid);
  return block;
}

// Blocks for an array of shape [C, L] or [C, H, W] (channel first), one per channel.
//   values: nested list; originOf: the coordinate of the first cell per axis (padding < 0)
export function channelBlocks({ values, shape, dims, role, registry, titleOf, kinds, sources,
  origin, titleFor, name }) {
  const blocks = [];
  const [channels, ...spatial] = shape;
  const rows = dims === 2 ? spatial[0] : 1;
  const cols = dims === 2 ? spatial[1] : spatial[0];
  const o = origin || (dims === 2 ? [0, 0] : [0]);
  for (let ch = 0; ch < channels; ch++) {
    blocks.push(gridBlock({
      title: titleOf(ch), rows, cols, role, registry, oneRow: dims === 1,
      rowLabel: (r) => r + o[0],
      colLabel: (c) => c + o[dims - 1],
      cell: (r, c) => {
        const at = dims === 2 ? [r, c] : [c];
        const index = [ch, ...at.map((v, k) => v + o[k])];
        const pick = (nested) => (dims === 2 ? nested[ch][r][c] : nested[ch][c]);
        const kind = kinds ? pick(kinds) : 'input';
        const source = sources ? pick(sources) : null;
        return {
          index, value: pick(values), kind,
          source,
          title: titleFor ? titleFor(index, kind, source) : `${name || role}[${index.join(', ')}]`,
        };
      },
    }));
  }
  return blocks;
}

// The weight as a matrix of kernels: one row per first dimension, one column per second.
export function weightBlocks({ values, shape, dims, role, registry, firstName, secondName, name }) {
  const [first, second, ...kernel] = shape;
  const rows = dims === 2 ? kernel[0] : 1;
  const cols = dims === 2 ? kernel[1] : kernel[0];
  const matrix = element('div', 'weight-matrix');
  matrix.style.gridTemplateColumns = `repeat(${second}, auto)`;
  for (let a = 0; a < first; a++) {
    for (let b = 0; b < second; b++) {
      matrix.append(gridBlock({
        title: `${firstName}=${a}, ${secondName}=${b}`, rows, cols, role, registry,
        oneRow: dims === 1,
        rowLabel: (r) => r, colLabel: (c) => c,
        cell: (r, c) => {
          const tap = dims === 2 ? [r, c] : [c];
          const kernelValues = values[a][b];
          const index = [a, b, ...tap];
          return {
            index, value: dims === 2 ? kernelValues[r][c] : kernelValues[c], kind: 'weight',
            title: `${name || role}[${index.join(', ')}]`,
          };
        },
      }));
    }
  }
  return matrix;
}
