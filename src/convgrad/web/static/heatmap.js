// Heat maps on a canvas: a layer's feature maps (one tile per channel), a conv layer's
// filters (one tile per output × input channel), and the model view's small plots. Values
// come from the API; this file only turns them into colours and finds the cell under the
// pointer.
import { element, fmt } from './grids.js';

// A diverging scale: negative blue, 0 white, positive red, each at full strength at ±scale.
const NEGATIVE = [36, 86, 214];
const POSITIVE = [214, 69, 42];

export function colourOf(value, scale) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'rgb(255, 215, 0)';
  const t = scale > 0 ? Math.max(-1, Math.min(1, value / scale)) : 0;
  const [r, g, b] = t < 0 ? NEGATIVE : POSITIVE;
  const a = Math.abs(t);
  const mix = (c) => Math.round(255 + (c - 255) * a);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

export function grayOf(value) {
  const v = Math.round(255 * Math.max(0, Math.min(1, Number(value) || 0)));
  return `rgb(${v}, ${v}, ${v})`;
}

// The largest |value| in nested lists (1 when there is none, so that all zeros stay white).
export function absMax(nested) {
  let best = 0;
  const walk = (v) => {
    if (Array.isArray(v)) { for (const x of v) walk(x); return; }
    if (typeof v === 'number' && Number.isFinite(v)) best = Math.max(best, Math.abs(v));
  };
  walk(nested);
  return best || 1;
}

// Nested lists as a list of 2-D tiles: [C, L] → C tiles of 1×L; [C, H, W] → C tiles of H×W;
// [O, C, k] → O·C tiles of 1×k; [O, C, kh, kw] → O·C tiles of kh×kw (row-major: o, then c).
export function tilesOf(nested, depthOfTile) {
  const tiles = [];
  const walk = (v, index) => {
    if (index.length === depthOfTile) {
      tiles.push({ index, rows: Array.isArray(v[0]) ? v : [v] });
      return;
    }
    v.forEach((item, k) => walk(item, [...index, k]));
  };
  walk(nested, []);
  return tiles;
}

// Draws tiles of cells on ``canvas``; returns a map that finds the cell at a point.
//   tiles: [{index, rows}], perRow: tiles per row, cell: pixels per cell, gap: between tiles,
//   colour(value): its fill, marks: [{tile, r, c, colour}] outlined on top.
export function drawTiles(canvas, { tiles, perRow, cell, gap = 4, colour, marks = [], label }) {
  const rows = Math.max(...tiles.map((t) => t.rows.length));
  const cols = Math.max(...tiles.map((t) => t.rows[0].length));
  const labelHeight = label ? 12 : 0;
  const tileW = cols * cell;
  const tileH = rows * cell + labelHeight;
  const columns = Math.max(1, Math.min(perRow, tiles.length));
  const lines = Math.ceil(tiles.length / columns);
  const width = columns * tileW + (columns - 1) * gap;
  const height = lines * tileH + (lines - 1) * gap;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  const origin = (k) => [(k % columns) * (tileW + gap), Math.floor(k / columns) * (tileH + gap)];
  // the geometry, for programs that point at a cell (the browser tests)
  Object.assign(canvas.dataset, { cell, gap, columns, label: labelHeight, tileWidth: tileW, tileHeight: tileH });
  context.font = '10px ui-monospace, Menlo, Consolas, monospace';
  context.textBaseline = 'top';
  tiles.forEach((tile, k) => {
    const [x0, y0] = origin(k);
    if (label) {
      context.fillStyle = '#5b6578';
      context.fillText(label(tile), x0, y0);
    }
    tile.rows.forEach((row, r) => row.forEach((value, c) => {
      context.fillStyle = colour(value);
      context.fillRect(x0 + c * cell, y0 + labelHeight + r * cell, cell, cell);
    }));
    if (cell >= 4) { // a frame per tile, where the cells are large enough to keep their colour
      context.strokeStyle = '#c9d0dc';
      context.lineWidth = 1;
      context.strokeRect(x0 + 0.5, y0 + labelHeight + 0.5, tile.rows[0].length * cell - 1,
        tile.rows.length * cell - 1);
    }
  });
  for (const mark of marks) {
    const [x0, y0] = origin(mark.tile);
    context.strokeStyle = mark.colour || '#111';
    context.lineWidth = 2;
    const w = mark.width || 1;
    const h = mark.height || 1;
    context.strokeRect(x0 + mark.c * cell + 1, y0 + labelHeight + mark.r * cell + 1,
      w * cell - 2, h * cell - 2);
  }
  return {
    at(event) {
      const rect = canvas.getBoundingClientRect();
      const x = ((event.clientX - rect.left) / rect.width) * width;
      const y = ((event.clientY - rect.top) / rect.height) * height;
      const col = Math.floor(x / (tileW + gap));
      const line = Math.floor(y / (tileH + gap));
      const k = line * columns + col;
      const tile = tiles[k];
      if (!tile || col >= columns) return null;
      const c = Math.floor((x - col * (tileW + gap)) / cell);
      const r = Math.floor((y - line * (tileH + gap) - labelHeight) / cell);
      if (r < 0 || c < 0 || r >= tile.rows.length || c >= tile.rows[0].length) return null;
      return { tile: k, index: tile.index, r, c, value: tile.rows[r][c] };
    },
  };
}

// A cell size that fits ``columns`` cells (with ``perRow`` tiles) into ``width`` pixels.
export function fitCell(width, cellsAcross, low = 3, high = 18) {
  return Math.max(low, Math.min(high, Math.floor(width / Math.max(1, cellsAcross))));
}

// A colour bar: −scale … 0 … +scale.
export function scaleBar(scale, text) {
  const bar = element('div', 'scale-bar');
  const strip = element('span', 'scale-strip');
  bar.append(element('span', 'scale-end', fmt(-scale)), strip, element('span', 'scale-end', fmt(scale)));
  if (text) bar.append(element('span', 'sub', ` ${text}`));
  return bar;
}

// ------------------------------------------------------------------ line plots (SVG)
const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attributes = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, String(value));
  return el;
}

// Lines over a shared x axis: series [{name, points: [[x, y]], className}], an optional
// vertical marker at x = marker, and dots at xs = ticks. Returns the <svg>.
// ``onPick(x)``: a click on the plot, at the x of the data it points to.
export function linePlot({ series, width = 320, height = 150, marker = null, ticks = [], yLabel = '', yRange = null, onPick = null }) {
  const plot = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'plot', role: 'img' });
  const points = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!points.length) {
    plot.append(svg('text', { x: 8, y: 20, class: 'plot-empty' }));
    plot.lastChild.textContent = 'no data';
    return plot;
  }
  const pad = { left: 40, right: 8, top: 8, bottom: 20 };
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = yRange || [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const X = (x) => pad.left + ((x - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const Y = (y) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  plot.append(svg('line', { x1: pad.left, y1: Y(y0), x2: width - pad.right, y2: Y(y0), class: 'axis-line-plot' }));
  plot.append(svg('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: Y(y0), class: 'axis-line-plot' }));
  for (const [value, anchor] of [[y0, 'end'], [y1, 'end']]) {
    const text = svg('text', { x: pad.left - 4, y: Y(value) + 4, 'text-anchor': anchor, class: 'plot-tick' });
    text.textContent = fmt(Number(value.toPrecision(3)));
    plot.append(text);
  }
  for (const value of [x0, x1]) {
    const text = svg('text', { x: X(value), y: height - 5, 'text-anchor': value === x0 ? 'start' : 'end', class: 'plot-tick' });
    text.textContent = String(value);
    plot.append(text);
  }
  if (yLabel) {
    const text = svg('text', { x: pad.left + 4, y: pad.top + 10, class: 'plot-label' });
    text.textContent = yLabel;
    plot.append(text);
  }
  for (const x of ticks) {
    if (x >= x0 && x <= x1) plot.append(svg('circle', { cx: X(x), cy: Y(y0), r: 2.5, class: 'plot-checkpoint' }));
  }
  if (marker !== null && marker >= x0 && marker <= x1) {
    plot.append(svg('line', { x1: X(marker), y1: pad.top, x2: X(marker), y2: Y(y0), class: 'plot-marker' }));
  }
  for (const s of series) {
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (!good.length) continue;
    plot.append(svg('polyline', {
      points: good.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' '),
      class: `plot-line ${s.className || ''}`,
    }));
  }
  if (onPick) {
    plot.classList.add('pickable');
    plot.addEventListener('click', (event) => {
      const box = plot.getBoundingClientRect();
      const at = ((event.clientX - box.left) / box.width) * width;
      onPick(x0 + ((at - pad.left) / (width - pad.left - pad.right)) * (x1 - x0));
    });
  }
  return plot;
}
