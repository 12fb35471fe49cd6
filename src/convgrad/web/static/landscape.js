// Landscape mode: the loss surfaces `convgrad landscape` saved, read from the folder given to
// `convgrad explore --landscapes DIR`. Two runs side by side on the same colour scale: a
// contour map (hover for the loss and accuracy of a grid point), a 3-D surface (drag, the
// arrow keys or the slider rotate both together) and the 1-D profiles. Every number comes
// from the API; the page only draws them.
import { element, fmt } from './grids.js';

const $ = (id) => document.getElementById(id);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/; // the API's plain names
const BANDS = 24; // colour bands of the contour map
const RUN_COLOURS = ['#2456d6', '#e4620c'];
// matplotlib's viridis at ten stops (its published values), interpolated linearly
const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];

function viridis(t) {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const k = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - k;
  return VIRIDIS[k].map((c, i) => Math.round(c + f * (VIRIDIS[k + 1][i] - c)));
}

function percent(value) { return value === null ? '·' : `${(100 * value).toFixed(1)}%`; }

// The value a cell is coloured by, mapped to [0, 1]: log loss on the shared range, or accuracy.
function scaleFor(answers, show) {
  if (show === 'accuracy') return { value: (a) => a, low: 0, high: 1, label: (v) => percent(v) };
  let low = Infinity;
  let high = -Infinity;
  for (const answer of answers) {
    for (const row of answer.loss) {
      for (const v of row) {
        if (v !== null && v > 0) { low = Math.min(low, v); high = Math.max(high, v); }
      }
    }
  }
  if (!Number.isFinite(low)) { low = 1e-3; high = 1; }
  if (high <= low) high = low * 1.01;
  return { value: (v) => (v !== null && v > 0 ? Math.log(v) : null), low: Math.log(low), high: Math.log(high),
    label: (v) => fmt(Math.exp(v)) };
}

function fitCanvas(canvas, height) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 300;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round((height || width) * ratio);
  canvas.style.height = `${height || width}px`;
  const context = canvas.getContext('2d');
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { context, width, height: height || width, ratio };
}

// ------------------------------------------------------------------ contour map
const MARGIN = { left: 34, right: 8, top: 8, bottom: 26 };

class Contour {
  constructor(canvas, readout, answer, scale, show) {
    Object.assign(this, { canvas, readout, answer, scale, show });
    canvas.addEventListener('mousemove', (event) => this.hover(event));
    canvas.addEventListener('mouseleave', () => { this.hover(null); });
  }

  grid() { return this.show === 'accuracy' ? this.answer.accuracy : this.answer.loss; }

  // the value at fractional grid position (r, c), bilinear over the four cells around it
  at(r, c) {
    const g = this.grid();
    const r0 = Math.min(g.length - 2, Math.floor(r));
    const c0 = Math.min(g[0].length - 2, Math.floor(c));
    const fr = r - r0;
    const fc = c - c0;
    const v = [g[r0][c0], g[r0][c0 + 1], g[r0 + 1][c0], g[r0 + 1][c0 + 1]].map((x) => this.scale.value(x));
    if (v.some((x) => x === null)) return null;
    return (1 - fr) * ((1 - fc) * v[0] + fc * v[1]) + fr * ((1 - fc) * v[2] + fc * v[3]);
  }

  draw() {
    const { context, width, height, ratio } = fitCanvas(this.canvas);
    this.size = { width, height };
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    this.plot = { x: MARGIN.left, y: MARGIN.top, w: plotW, h: plotH };
    const pw = Math.round(plotW * ratio);
    const ph = Math.round(plotH * ratio);
    const image = context.createImageData(pw, ph);
    const rows = this.grid().length;
    const cols = this.grid()[0].length;
    const band = new Int16Array(pw * ph).fill(-1);
    const { low, high } = this.scale;
    for (let py = 0; py < ph; py++) {
      const r = (1 - py / (ph - 1)) * (rows - 1); // y grows upwards
      for (let px = 0; px < pw; px++) {
        const v = this.at(r, (px / (pw - 1)) * (cols - 1));
        const k = 4 * (py * pw + px);
        if (v === null) { image.data.set([225, 228, 234, 255], k); continue; }
        const b = Math.min(BANDS - 1, Math.max(0, Math.floor(((v - low) / (high - low)) * BANDS)));
        band[py * pw + px] = b;
        image.data.set([...viridis((b + 0.5) / BANDS), 255], k);
      }
    }
    // contour lines: where the band changes from one pixel to the next
    for (let py = 0; py < ph - 1; py++) {
      for (let px = 0; px < pw - 1; px++) {
        const here = band[py * pw + px];
        if (here < 0) continue;
        const right = band[py * pw + px + 1];
        const below = band[(py + 1) * pw + px];
        if ((right >= 0 && right !== here) || (below >= 0 && below !== here)) {
          image.data.set([255, 255, 255, 150], 4 * (py * pw + px));
        }
      }
    }
    this.base = image;
    this.paint(null);
  }

  paint(cell) {
    const context = this.canvas.getContext('2d');
    const ratio = window.devicePixelRatio || 1;
    const { x, y, w, h } = this.plot;
    context.setTransform(1, 0, 0, 1, 0, 0);
    context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    context.putImageData(this.base, Math.round(x * ratio), Math.round(y * ratio));
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    const a = this.answer;
    const toX = (alpha) => x + ((alpha - a.x[0]) / (a.x[a.x.length - 1] - a.x[0])) * w;
    const toY = (beta) => y + h - ((beta - a.y[0]) / (a.y[a.y.length - 1] - a.y[0])) * h;
    context.strokeStyle = '#5b6578';
    context.strokeRect(x, y, w, h);
    context.fillStyle = '#1c2433';
    context.font = '11px system-ui, sans-serif';
    context.textAlign = 'center';
    for (const alpha of [a.x[0], 0, a.x[a.x.length - 1]]) context.fillText(fmt(alpha), toX(alpha), y + h + 13);
    context.fillText('α (direction δ)', x + w / 2, y + h + 24);
    context.textAlign = 'right';
    for (const beta of [a.y[0], 0, a.y[a.y.length - 1]]) context.fillText(fmt(beta), x - 4, toY(beta) + 4);
    context.save();
    context.translate(10, y + h / 2);
    context.rotate(-Math.PI / 2);
    context.textAlign = 'center';
    context.fillText('β (direction η)', 0, 0);
    context.restore();
    // the trained weights, and the hovered grid point
    context.strokeStyle = '#d62728';
    context.lineWidth = 2;
    context.beginPath();
    context.moveTo(toX(0) - 6, toY(0)); context.lineTo(toX(0) + 6, toY(0));
    context.moveTo(toX(0), toY(0) - 6); context.lineTo(toX(0), toY(0) + 6);
    context.stroke();
    if (cell) {
      context.strokeStyle = '#fff';
      context.beginPath();
      context.arc(toX(a.x[cell.j]), toY(a.y[cell.i]), 5, 0, 2 * Math.PI);
      context.stroke();
    }
    context.lineWidth = 1;
  }

  hover(event) {
    const a = this.answer;
    if (!event || !this.plot) {
      this.readout.textContent = 'Hover the map for the loss and accuracy at a grid point.';
      if (this.base) this.paint(null);
      return;
    }
    const rect = this.canvas.getBoundingClientRect();
    const { x, y, w, h } = this.plot;
    const fx = (event.clientX - rect.left - x) / w;
    const fy = (event.clientY - rect.top - y) / h;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) { this.hover(null); return; }
    const j = Math.round(fx * (a.x.length - 1));
    const i = Math.round((1 - fy) * (a.y.length - 1));
    const loss = a.loss[i][j];
    const accuracy = a.accuracy[i][j];
    this.readout.textContent = loss === null && accuracy === null
      ? `α = ${fmt(a.x[j])}, β = ${fmt(a.y[i])}: not computed`
      : `α = ${fmt(a.x[j])}, β = ${fmt(a.y[i])}: loss ${fmt(loss)}, accuracy ${percent(accuracy)}`;
    this.readout.dataset.cell = `${i},${j}`;
    this.paint({ i, j });
  }
}

// ------------------------------------------------------------------ 3-D surface
function drawSurface(canvas, answer, scale, show, view) {
  const { context, width, height } = fitCanvas(canvas, Math.round((canvas.clientWidth || 300) * 0.8));
  const a = answer;
  const grid = show === 'accuracy' ? a.accuracy : a.loss;
  const nx = a.x.length;
  const ny = a.y.length;
  const { low, high } = scale;
  // x, y in [-1, 1], height in [0, 1] (log loss or accuracy on the shared range)
  const heightOf = (i, j) => {
    const v = scale.value(grid[i][j]);
    return v === null ? null : Math.min(1, Math.max(0, (v - low) / (high - low)));
  };
  const ca = Math.cos(view.azimuth);
  const sa = Math.sin(view.azimuth);
  const ce = Math.cos(view.elevation);
  const se = Math.sin(view.elevation);
  const unit = Math.min(width, height) * 0.34;
  const project = (u, v, z) => {
    const rx = ca * u - sa * v;
    const ry = sa * u + ca * v;
    const zz = 1.3 * z - 0.65;
    return { x: width / 2 + unit * rx, y: height * 0.55 - unit * (ce * zz - se * ry) * 1.0 + unit * se * 0, depth: ce * ry + se * zz };
  };
  const point = (i, j) => {
    const z = heightOf(i, j);
    if (z === null) return null;
    return project((2 * j) / (nx - 1) - 1, (2 * i) / (ny - 1) - 1, z);
  };
  const quads = [];
  for (let i = 0; i < ny - 1; i++) {
    for (let j = 0; j < nx - 1; j++) {
      const corners = [point(i, j), point(i, j + 1), point(i + 1, j + 1), point(i + 1, j)];
      if (corners.some((c) => c === null)) continue;
      const z = [heightOf(i, j), heightOf(i, j + 1), heightOf(i + 1, j + 1), heightOf(i + 1, j)];
      quads.push({ corners, depth: corners.reduce((s, c) => s + c.depth, 0) / 4, z: z.reduce((s, v) => s + v, 0) / 4 });
    }
  }
  quads.sort((p, q) => q.depth - p.depth); // far first (painter's algorithm)
  context.clearRect(0, 0, width, height);
  context.lineWidth = 0.4;
  for (const quad of quads) {
    const [r, g, b] = viridis(quad.z);
    context.fillStyle = `rgb(${r},${g},${b})`;
    context.strokeStyle = 'rgba(255,255,255,0.35)';
    context.beginPath();
    quad.corners.forEach((c, k) => (k ? context.lineTo(c.x, c.y) : context.moveTo(c.x, c.y)));
    context.closePath();
    context.fill();
    context.stroke();
  }
  context.fillStyle = '#5b6578';
  context.font = '11px system-ui, sans-serif';
  context.textAlign = 'left';
  context.fillText(show === 'accuracy' ? 'height: accuracy' : 'height: log loss (shared range)', 6, 14);
}

// ------------------------------------------------------------------ 1-D profiles
function drawProfile(canvas, answers, key, xKey, title, marks) {
  const { context, width, height } = fitCanvas(canvas, 190);
  const m = { left: 44, right: 10, top: 20, bottom: 30 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const series = answers.map((a) => a[key][xKey].map((x, k) => [x, a[key].loss[k]]).filter(([, v]) => v !== null && v > 0));
  const xs = answers.flatMap((a) => a[key][xKey]);
  const values = series.flat().map(([, v]) => Math.log10(v));
  if (!values.length) return;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.floor(Math.min(...values)), Math.ceil(Math.max(...values))];
  if (y1 === y0) y1 = y0 + 1;
  const toX = (x) => m.left + ((x - x0) / (x1 - x0)) * w;
  const toY = (v) => m.top + h - ((Math.log10(v) - y0) / (y1 - y0)) * h;
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.fillStyle = '#1c2433';
  context.textAlign = 'left';
  context.fillText(title, m.left, 13);
  context.strokeStyle = '#d5dae3';
  context.textAlign = 'right';
  for (let e = y0; e <= y1; e++) {
    const y = toY(10 ** e);
    context.beginPath(); context.moveTo(m.left, y); context.lineTo(m.left + w, y); context.stroke();
    context.fillText(fmt(10 ** e), m.left - 4, y + 4);
  }
  context.textAlign = 'center';
  for (const x of marks) {
    context.strokeStyle = '#aab2c0';
    context.beginPath(); context.moveTo(toX(x), m.top); context.lineTo(toX(x), m.top + h); context.stroke();
  }
  for (const x of [x0, ...marks, x1]) context.fillText(fmt(x), toX(x), m.top + h + 14);
  context.fillText(xKey === 't' ? 't (0: initial weights, 1: trained)' : 'α along δ (0: trained)', m.left + w / 2, m.top + h + 27);
  series.forEach((points, k) => {
    context.strokeStyle = RUN_COLOURS[k];
    context.lineWidth = 1.6;
    context.beginPath();
    points.forEach(([x, v], n) => (n ? context.lineTo(toX(x), toY(v)) : context.moveTo(toX(x), toY(v))));
    context.stroke();
  });
  context.lineWidth = 1;
}

// ------------------------------------------------------------------ the mode
export class LandscapeMode {
  constructor({ saveURL, params }) {
    this.saveURL = saveURL;
    this.active = false;
    this.list = null;
    this.answers = [];
    this.seq = 0;
    const own = (key) => (params.get('mode') === 'landscape' ? params.get(key) : null);
    this.names = [own('a'), own('b')].map((n) => (n && (NAME.test(n) || n === '-') ? n : null));
    this.show = own('show') === 'accuracy' ? 'accuracy' : 'loss';
    this.view = { azimuth: -0.9, elevation: 0.55 };
    this.bind();
  }

  bind() {
    for (const [k, id] of [[0, 'landscape-a'], [1, 'landscape-b']]) {
      $(id).addEventListener('change', (event) => { this.names[k] = event.target.value; this.load(); });
    }
    $('landscape-show').addEventListener('change', (event) => { this.show = event.target.value; this.draw(); this.saveURL(); });
    $('landscape-azimuth').addEventListener('input', (event) => {
      this.view.azimuth = (Number(event.target.value) * Math.PI) / 180;
      this.drawSurfaces();
    });
  }

  query() {
    const q = new URLSearchParams();
    q.set('mode', 'landscape');
    this.names.forEach((name, k) => { if (name) q.set(k ? 'b' : 'a', name); });
    q.set('show', this.show);
    return q.toString();
  }

  message(text) {
    const box = $('landscape-message');
    box.hidden = !text;
    box.replaceChildren(...(text ? [element('span', 'detail', text)] : []));
  }

  async activate() {
    this.active = true;
    $('landscape-show').value = this.show;
    try {
      const response = await fetch('/api/landscapes');
      this.list = await response.json();
      if (!response.ok) throw new Error(this.list.detail || `the server answered ${response.status}`);
    } catch (error) {
      this.message(`Cannot list the landscapes: ${error.message}`);
      return;
    }
    const names = this.list.landscapes.map((l) => l.name);
    if (!this.list.configured) {
      this.message('No landscapes folder: start the explorer with convgrad explore --landscapes DIR, where DIR is the --out of convgrad landscape (default landscapes/).');
    } else if (!names.length) {
      this.message('The landscapes folder holds no landscape yet: make one with convgrad landscape RUN.');
    }
    if (!names.includes(this.names[0])) this.names[0] = names[0] || null;
    if (this.names[1] !== '-' && !names.includes(this.names[1])) this.names[1] = names.find((n) => n !== this.names[0]) || '-';
    for (const [k, id] of [[0, 'landscape-a'], [1, 'landscape-b']]) {
      const select = $(id);
      select.replaceChildren(...(k ? [element('option', '', 'none')] : []), ...names.map((n) => element('option', '', n)));
      if (k) select.firstChild.value = '-';
      select.value = this.names[k] || '-';
      select.disabled = !names.length;
    }
    await this.load();
  }

  deactivate() { this.active = false; }

  async load() {
    const seq = ++this.seq;
    this.saveURL();
    const wanted = this.names.filter((n) => n && n !== '-');
    $('landscape-panels').dataset.ready = 'false';
    try {
      const answers = await Promise.all(wanted.map(async (name) => {
        const response = await fetch(`/api/landscapes/${encodeURIComponent(name)}`);
        const data = await response.json();
        if (!response.ok) throw new Error(data.detail || `the server answered ${response.status}`);
        return data;
      }));
      if (seq !== this.seq) return;
      this.answers = answers;
      if (answers.length) this.message(null);
      this.build();
      this.draw();
    } catch (error) {
      if (seq === this.seq) this.message(error.message);
    } finally {
      if (seq === this.seq) $('landscape-panels').dataset.ready = 'true';
    }
  }

  // one card per landscape: its numbers, its contour map and its surface
  build() {
    const holder = $('landscape-panels');
    holder.replaceChildren();
    this.panels = this.answers.map((a, k) => {
      const card = element('section', 'card landscape-panel');
      card.dataset.name = a.name;
      const head = element('div', 'card-head');
      const title = element('h2', '', a.name);
      title.style.color = RUN_COLOURS[k];
      head.append(title, element('span', 'sub', `${a.model || '?'} · step ${a.checkpoint_step ?? '?'} · ${(a.parameters ?? 0).toLocaleString('en')} parameters`));
      const numbers = element('dl', 'landscape-numbers');
      const h = a.hessian || {};
      for (const [term, value, note] of [
        ['centre loss', fmt(a.centre && a.centre.loss), 'at the trained weights'],
        ['centre accuracy', percent(a.centre ? a.centre.accuracy : null), `on ${a.settings.samples} training samples`],
        ['λ_max', fmt(h.lambda_max ?? null), 'the Hessian\'s largest eigenvalue: sharpness'],
        ['λ_min', fmt(h.lambda_min ?? null), 'its smallest: negative = a direction of descent'],
        ['|λ_min/λ_max|', fmt(h.ratio ?? null), 'Li et al.\'s non-convexity ratio'],
      ]) {
        const row = element('div', '');
        row.title = note;
        row.append(element('dt', '', term), element('dd', '', value));
        numbers.append(row);
      }
      const contour = element('canvas', 'landscape-contour');
      contour.setAttribute('role', 'img');
      contour.setAttribute('aria-label', `contour map of the training loss of ${a.name}`);
      const readout = element('p', 'pixel landscape-readout', 'Hover the map for the loss and accuracy at a grid point.');
      const surface = element('canvas', 'landscape-surface');
      surface.setAttribute('role', 'img');
      surface.setAttribute('aria-label', `3-D surface of ${a.name}; drag or use the arrow keys to rotate`);
      surface.tabIndex = 0;
      this.bindRotation(surface);
      const done = a.cells_done < a.x.length * a.y.length
        ? element('p', 'hint', `${a.cells_done} of ${a.x.length * a.y.length} cells computed (an interrupted landscape: convgrad landscape continues it).`) : null;
      const settings = element('p', 'hint', `${a.y.length}×${a.x.length} grid over [${fmt(a.x[0])}, ${fmt(a.x[a.x.length - 1])}]², ${a.settings.mode} mode, directions seed ${a.settings.seed}, biasbn ${a.settings.biasbn}.`);
      card.append(head, numbers, ...(done ? [done] : []), contour, readout, surface, settings);
      holder.append(card);
      return { contour, readout, surface };
    });
  }

  bindRotation(canvas) {
    let start = null;
    canvas.addEventListener('pointerdown', (event) => {
      start = { x: event.clientX, y: event.clientY, view: { ...this.view } };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener('pointermove', (event) => {
      if (!start) return;
      this.view.azimuth = start.view.azimuth + (event.clientX - start.x) * 0.01;
      this.view.elevation = Math.min(1.45, Math.max(0.05, start.view.elevation + (event.clientY - start.y) * 0.01));
      this.drawSurfaces();
    });
    canvas.addEventListener('pointerup', () => { start = null; });
    canvas.addEventListener('keydown', (event) => {
      const turn = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, 0.08], ArrowDown: [0, -0.08] }[event.key];
      if (!turn) return;
      event.preventDefault();
      this.view.azimuth += turn[0];
      this.view.elevation = Math.min(1.45, Math.max(0.05, this.view.elevation + turn[1]));
      this.drawSurfaces();
    });
  }

  draw() {
    if (!this.active || !this.panels) return;
    this.scale = scaleFor(this.answers, this.show);
    this.contours = this.answers.map((a, k) => {
      const contour = new Contour(this.panels[k].contour, this.panels[k].readout, a, this.scale, this.show);
      contour.draw();
      return contour;
    });
    this.drawSurfaces();
    this.drawLegend();
    const profiles = $('landscape-profiles');
    profiles.hidden = !this.answers.length;
    if (this.answers.length) {
      drawProfile($('landscape-direction'), this.answers, 'direction', 'alpha', 'training loss along δ (log scale)', [0]);
      drawProfile($('landscape-line'), this.answers, 'line', 't', 'training loss from θ₀ to θ* (log scale)', [0, 1]);
      const legend = $('landscape-profile-legend');
      legend.replaceChildren(...this.answers.map((a, k) => {
        const item = element('li', '');
        const swatch = element('span', 'swatch');
        swatch.style.background = RUN_COLOURS[k];
        item.append(swatch, element('span', '', a.name));
        return item;
      }));
    }
  }

  drawSurfaces() {
    if (!this.panels) return;
    const degrees = Math.round(((this.view.azimuth * 180) / Math.PI) % 360);
    $('landscape-azimuth').value = String(((degrees + 540) % 360) - 180);
    this.answers.forEach((a, k) => drawSurface(this.panels[k].surface, a, this.scale, this.show, this.view));
  }

  // the colour bar both maps share
  drawLegend() {
    const bar = $('landscape-scale');
    const { context, width, height } = fitCanvas(bar, 34);
    context.clearRect(0, 0, width, height);
    for (let b = 0; b < BANDS; b++) {
      const [r, g, bl] = viridis((b + 0.5) / BANDS);
      context.fillStyle = `rgb(${r},${g},${bl})`;
      context.fillRect((b / BANDS) * width, 0, width / BANDS + 1, 16);
    }
    const { low, high, label } = this.scale;
    context.fillStyle = '#1c2433';
    context.font = '11px system-ui, sans-serif';
    context.textAlign = 'left';
    context.fillText(label(low), 0, 30);
    context.textAlign = 'right';
    context.fillText(label(high), width, 30);
    context.textAlign = 'center';
    context.fillText(this.show === 'accuracy' ? 'training accuracy' : 'training loss (log scale, shared)', width / 2, 30);
  }
}
