// The model view: a trained run's network as a column of layers, one example through it
// (its feature maps, filters and gradients), the window behind a feature-map cell, a weight's
// gradient as the sum of its per-position contributions, and a checkpoint slider beside the
// training curves. Every number comes from /api/model/... (convgrad.inspect on the run's own
// model); this file lays them out, and keeps what is shown in the URL.
import { element, fmt } from './grids.js';
import { renderWindow } from './views.js';
import {
  absMax, colourOf, drawTiles, fitCell, grayOf, linePlot, scaleBar, svg, tilesOf,
} from './heatmap.js';

const $ = (id) => document.getElementById(id);
const MAX_INPUT_VALUES = 3072; // model_api.MAX_INPUT_VALUES: the largest input sent
const SIGNAL_RANGE = 4; // a drawn signal's values lie in [−4, 4]

function indexText(name, index) { return `${name}[${index.join(', ')}]`; }

function parseList(text) {
  if (!text) return null;
  const values = text.split(',').map(Number);
  return values.every(Number.isFinite) ? values : null;
}

function parseIndex(text) {
  const values = parseList(text);
  return values && values.every((v) => Number.isInteger(v) && v >= 0) ? values : null;
}

function flatten(nested) { return Array.isArray(nested) ? nested.flatMap(flatten) : [nested]; }

// A count short enough for the network column (the exact number is in the row's title).
function compact(n) {
  if (n < 10000) return n.toLocaleString('en');
  if (n < 1e6) return `${Number((n / 1e3).toFixed(n < 1e5 ? 1 : 0))}k`;
  return `${Number((n / 1e6).toFixed(2))}M`;
}

function number(value, digits = 4) {
  if (value === null || value === undefined) return '–';
  return fmt(Number(Number(value).toPrecision(digits)));
}

export class ModelMode {
  constructor({ postJSON, saveURL, params }) {
    this.postJSON = postJSON;
    this.saveURL = saveURL;
    this.active = false;
    this.started = false;
    this.seq = 0;
    this.pending = 0;
    this.runs = [];
    this.info = null; // POST /api/model/run
    this.exampleAnswer = null;
    this.layerAnswer = null;
    this.windowAnswer = null;
    this.contribAnswer = null;
    this.examplesAnswer = null;
    this.drawing = null; // the values being drawn, flat
    const own = (key) => (params.get('mode') === 'model' ? params.get(key) : null);
    const example = Number(own('ex'));
    const label = Number(own('label'));
    this.state = {
      run: own('run'),
      ckpt: /^(last|best|\d{1,9})$/.test(own('ckpt') || '') ? own('ckpt') : 'last',
      example: Number.isInteger(example) && example >= 0 && own('ex') !== null ? example : null,
      draw: parseList(own('draw')),
      label: Number.isInteger(label) && label >= 0 && own('label') !== null ? label : null,
      layer: own('layer'),
      cell: parseIndex(own('cell')),
      weight: parseIndex(own('w')),
      cls: own('cls') !== null && /^\d+$/.test(own('cls')) ? Number(own('cls')) : null,
      wrong: own('wrong') === '1',
    };
    if (this.state.draw && this.state.draw.length > MAX_INPUT_VALUES) this.state.draw = null;
    if (this.state.example === null && !this.state.draw) this.state.example = 0;
    this.bind();
  }

  // ------------------------------------------------------------------ plumbing
  busy(delta) {
    this.pending += delta;
    document.body.classList.toggle('busy', this.pending > 0);
  }

  async call(path, body) {
    return this.postJSON(`/api/model/${path}`, body);
  }

  source() {
    const s = this.state;
    const base = { run: s.run, checkpoint: s.ckpt };
    if (s.draw) return { ...base, input: s.draw, ...(s.label !== null ? { label: s.label } : {}) };
    return { ...base, example: s.example };
  }

  query() {
    const s = this.state;
    const q = new URLSearchParams();
    q.set('mode', 'model');
    if (s.run) q.set('run', s.run);
    q.set('ckpt', s.ckpt);
    if (s.draw) {
      q.set('draw', s.draw.map((v) => Number(v.toFixed(3))).join(','));
      if (s.label !== null) q.set('label', s.label);
    } else if (s.example !== null) q.set('ex', s.example);
    if (s.layer) q.set('layer', s.layer);
    if (s.cell) q.set('cell', s.cell.join(','));
    if (s.weight) q.set('w', s.weight.join(','));
    if (s.cls !== null) q.set('cls', s.cls);
    if (s.wrong) q.set('wrong', '1');
    return q.toString();
  }

  showMessage(problem) {
    const box = $('model-message');
    box.hidden = !problem;
    if (problem) {
      const prefix = { unavailable: 'Cannot load the run: ', impossible: 'Not possible: ',
        invalid: 'Not accepted: ', too_large: 'Too large to show: ' }[problem.kind] || '';
      box.replaceChildren(element('strong', '', prefix), element('span', 'detail', problem.message));
    }
  }

  fail(error) {
    this.showMessage({ kind: error.kind, message: error.message === 'Failed to fetch'
      ? 'Cannot reach the convgrad server: is `convgrad explore` still running?' : error.message });
  }

  // ------------------------------------------------------------------ controls
  bind() {
    // Enter in a field must not submit the form (nothing here is sent as a form)
    $('model-settings').addEventListener('submit', (event) => event.preventDefault());
    $('model-run').addEventListener('change', (event) => {
      this.state = { ...this.state, run: event.target.value, ckpt: 'last', example: 0, draw: null,
        label: null, layer: null, cell: null, weight: null, cls: null, wrong: false };
      this.refresh('run');
    });
    $('model-checkpoint').addEventListener('input', (event) => this.chooseCheckpoint(Number(event.target.value)));
    $('model-example').addEventListener('change', (event) => {
      const value = Number(event.target.value);
      if (!Number.isInteger(value) || value < 0) return;
      this.chooseExample(value);
    });
    $('model-prev').addEventListener('click', () => this.step(-1));
    $('model-next').addEventListener('click', () => this.step(1));
    $('model-class').addEventListener('change', (event) => {
      this.state.cls = event.target.value === '' ? null : Number(event.target.value);
      this.refresh('examples');
    });
    $('model-wrong').addEventListener('change', (event) => {
      this.state.wrong = event.target.checked;
      this.refresh('examples');
    });
    $('model-example-list').addEventListener('click', (event) => {
      const chip = event.target.closest('[data-example]');
      if (chip) this.chooseExample(Number(chip.dataset.example));
    });
    $('model-network').addEventListener('click', (event) => {
      const row = event.target.closest('[data-layer]');
      if (row) this.chooseLayer(row.dataset.layer);
    });
    $('model-draw-toggle').addEventListener('click', () => this.toggleDrawing());
    $('model-draw-clear').addEventListener('click', () => this.startDrawing('clear'));
    $('model-draw-copy').addEventListener('click', () => this.startDrawing('copy'));
    $('model-draw-use').addEventListener('click', () => this.useDrawing());
    $('model-draw-label').addEventListener('change', (event) => {
      this.state.label = event.target.value === '' ? null : Number(event.target.value);
      if (this.state.draw) this.refresh('example');
    });
    const pad = $('model-draw-canvas');
    let down = false;
    pad.addEventListener('pointerdown', (event) => { down = true; pad.setPointerCapture(event.pointerId); this.paint(event); });
    pad.addEventListener('pointermove', (event) => { if (down) this.paint(event); });
    pad.addEventListener('pointerup', () => { down = false; });
    pad.addEventListener('pointercancel', () => { down = false; });
    let resized = null;
    window.addEventListener('resize', () => {
      clearTimeout(resized);
      resized = setTimeout(() => {
        if (!this.active || !this.layerAnswer) return;
        this.drawDetail();
        this.drawSkips();
      }, 150);
    });
  }

  // the k-th kept checkpoint (the slider's position)
  chooseCheckpoint(k) {
    const chosen = this.info ? this.info.checkpoints[k] : null;
    if (!chosen || String(chosen.step) === this.state.ckpt) return;
    this.state.ckpt = String(chosen.step);
    this.showCheckpoint();
    this.refresh('example');
  }

  chooseExample(index) {
    this.state.example = index;
    this.state.draw = null;
    this.state.label = null;
    this.state.cell = null;
    this.refresh('example');
  }

  step(delta) {
    const listed = this.examplesAnswer ? this.examplesAnswer.examples.map((e) => e.index) : [];
    const filtered = this.state.cls !== null || this.state.wrong;
    const current = this.state.example === null ? 0 : this.state.example;
    let next;
    if (filtered && listed.length) {
      const at = listed.indexOf(current);
      next = listed[(Math.max(at, delta > 0 ? -1 : 0) + delta + listed.length) % listed.length];
    } else {
      const total = this.examplesAnswer ? this.examplesAnswer.total : 1;
      next = (current + delta + total) % total;
    }
    this.chooseExample(next);
  }

  chooseLayer(name) {
    if (this.state.layer === name) return;
    this.state.layer = name;
    this.state.cell = null;
    this.state.weight = null;
    this.refresh('layer');
  }

  // ------------------------------------------------------------------ loading
  async activate() {
    this.active = true;
    if (!this.started) {
      this.started = true;
      this.busy(1);
      try {
        const listing = await fetch('/api/model/runs').then((r) => r.json());
        this.runs = listing.runs;
        const select = $('model-run');
        select.replaceChildren(...this.runs.map((r) => {
          const option = element('option', '', r.name);
          option.value = r.name;
          return option;
        }));
        if (!this.runs.length) {
          this.showMessage({ message: 'No trained run to show. Start the explorer with a run: convgrad explore --run runs/cnn (or --runs runs for a picker over every run in runs/).' });
          $('model-view').hidden = true;
          return;
        }
        if (!this.runs.some((r) => r.name === this.state.run)) {
          this.state.run = listing.initial || this.runs[0].name;
        }
        select.value = this.state.run;
      } catch (error) {
        this.fail(error);
        return;
      } finally {
        this.busy(-1);
      }
      await this.refresh('run');
      return;
    }
    this.saveURL();
  }

  deactivate() { this.active = false; }

  // Reload from ``level`` down: run → examples → example → layer → window/contributions.
  async refresh(level) {
    const seq = ++this.seq;
    const order = ['run', 'examples', 'example', 'layer', 'detail'];
    const from = order.indexOf(level);
    const stale = () => seq !== this.seq;
    this.busy(1);
    try {
      if (from <= 0) {
        this.info = await this.call('run', { run: this.state.run });
        if (stale()) return;
        this.drawRun();
      }
      if (from <= 1) {
        this.examplesAnswer = await this.call('examples', {
          run: this.state.run, checkpoint: this.state.ckpt, misclassified: this.state.wrong,
          ...(this.state.cls !== null ? { label: this.state.cls } : {}),
        });
        if (stale()) return;
        this.drawExampleList();
      }
      if (from <= 2) {
        this.exampleAnswer = await this.call('example', this.source());
        if (stale()) return;
        this.drawExample();
      }
      if (from <= 3) {
        this.layerAnswer = await this.call('layer', { ...this.source(), layer: this.state.layer });
        if (stale()) return;
      }
      this.windowAnswer = null;
      this.contribAnswer = null;
      if (!this.layerAnswer.conv) {
        this.state.cell = null;
        this.state.weight = null;
      }
      if (this.state.cell) {
        this.windowAnswer = await this.call('window', { ...this.source(), layer: this.state.layer, index: this.state.cell });
        if (stale()) return;
      }
      if (this.state.weight) {
        this.contribAnswer = await this.call('contributions', { ...this.source(), layer: this.state.layer, weight: this.state.weight });
        if (stale()) return;
      }
      this.showMessage(null);
      $('model-view').hidden = false;
      this.drawDetail();
      if (from <= 0) this.drawSkips(); // rows have their places once the view shows
    } catch (error) {
      if (stale()) return;
      this.fail(error);
      // a cell or weight (from a link) that the layer does not have: drop it, keep the rest
      if (this.layerAnswer && (this.state.cell || this.state.weight)) {
        this.state.cell = null;
        this.state.weight = null;
        this.drawDetail();
      }
    } finally {
      this.busy(-1);
      if (!stale()) this.saveURL();
    }
  }

  // ------------------------------------------------------------------ the run
  drawRun() {
    const info = this.info;
    const layers = info.layers.map((l) => l.name);
    if (!layers.includes(this.state.layer)) {
      const conv = info.layers.find((l) => l.type.startsWith('Conv'));
      this.state.layer = (conv || info.layers[0]).name;
      this.state.cell = null;
      this.state.weight = null;
    }
    $('model-run-note').textContent = `${info.model} on ${info.dataset}: ${info.description}`;
    const slider = $('model-checkpoint');
    slider.max = Math.max(0, info.checkpoints.length - 1);
    slider.disabled = info.checkpoints.length < 2;
    this.showCheckpoint();
    const classes = $('model-class');
    classes.replaceChildren(element('option', '', 'any'), ...info.classes.map((name, k) => {
      const option = element('option', '', name === String(k) ? name : `${k} ${name}`);
      option.value = String(k);
      return option;
    }));
    classes.firstChild.value = '';
    classes.value = this.state.cls === null ? '' : String(this.state.cls);
    $('model-wrong').checked = this.state.wrong;
    const labels = $('model-draw-label');
    labels.replaceChildren(element('option', '', 'the predicted class'), ...info.classes.map((name, k) => {
      const option = element('option', '', `class ${name === String(k) ? name : `${k} ${name}`}`);
      option.value = String(k);
      return option;
    }));
    labels.firstChild.value = '';
    labels.value = this.state.label === null ? '' : String(this.state.label);
    $('model-draw-toggle').hidden = !info.drawable;
    if (!info.drawable) $('model-draw').hidden = true;
    this.drawNetwork();
  }

  showCheckpoint() {
    const kept = this.info ? this.info.checkpoints : [];
    if (!kept.length) return;
    let at = kept.length - 1;
    if (this.state.ckpt === 'best') at = Math.max(0, kept.findIndex((c) => c.best));
    else if (this.state.ckpt !== 'last') {
      const found = kept.findIndex((c) => String(c.step) === this.state.ckpt);
      if (found >= 0) at = found;
    }
    $('model-checkpoint').value = String(at);
    const chosen = kept[at];
    const asked = this.state.ckpt === 'last' || this.state.ckpt === 'best' ? ` (${this.state.ckpt})` : '';
    $('model-checkpoint-label').textContent = `step ${chosen.step}${chosen.best ? ', the best evaluation' : ''}${asked} · ${at + 1} of ${kept.length} kept`;
    this.drawCurves(chosen.step);
  }

  drawNetwork() {
    const info = this.info;
    const holder = $('model-network');
    holder.replaceChildren();
    $('model-network-total').textContent = `${info.total_params.toLocaleString('en')} parameters · ${info.total_macs.toLocaleString('en')} mult-adds per example`;
    const list = element('div', 'layer-list');
    const head = element('div', 'layer-row head');
    for (const text of ['layer', 'output', 'params', 'mult-adds', '‖∂L/∂out‖']) head.append(element('span', '', text));
    list.append(head);
    for (const layer of info.layers) {
      const row = element('div', 'layer-row');
      row.dataset.layer = layer.name;
      row.tabIndex = 0;
      row.setAttribute('role', 'button');
      if (layer.block === layer.name) row.classList.add('block');
      // the last part of a dotted name, indented by its depth ("layer1.0.conv1" → "conv1"
      // under the block's row "layer1.0"); the whole name on hover and in the layer's title
      const parts = layer.name.split('.');
      const short = layer.block === layer.name ? layer.name : parts[parts.length - 1];
      row.dataset.depth = String(Math.min(3, layer.block === layer.name ? 0 : parts.length - 1));
      const name = element('span', 'layer-name');
      name.append(element('code', '', short),
        element('span', 'sub', ` ${layer.type}${layer.skip ? ' + skip' : ''}`));
      name.title = `${layer.name} (${layer.type}): output ${layer.output_shape.join(' × ')}, ${layer.params.toLocaleString('en')} parameters, ${layer.macs.toLocaleString('en')} mult-adds`;
      row.append(name, element('span', 'num', layer.output_shape.join('×')),
        element('span', 'num', compact(layer.params)), element('span', 'num', compact(layer.macs)));
      const grad = element('span', 'grad');
      grad.append(element('span', 'grad-bar'), element('span', 'grad-value', ''));
      row.append(grad);
      row.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); this.chooseLayer(layer.name); }
      });
      list.append(row);
    }
    const gutter = element('div', 'skip-gutter');
    holder.append(gutter, list);
    this.markLayer();
  }

  // Skip connections: an arc from the row before a residual block to the block's own row
  // (where its input is added back).
  drawSkips() {
    const holder = $('model-network');
    const gutter = holder.querySelector('.skip-gutter');
    if (!gutter || !this.info) return;
    gutter.replaceChildren();
    const rows = [...holder.querySelectorAll('.layer-row[data-layer]')];
    const top = holder.getBoundingClientRect().top;
    const middle = (row) => row.getBoundingClientRect().top - top + row.offsetHeight / 2;
    const height = holder.scrollHeight;
    const plot = svg('svg', { viewBox: `0 0 22 ${height}`, width: 22, height });
    this.info.layers.forEach((layer, k) => {
      if (!layer.skip) return;
      const first = this.info.layers.findIndex((l) => l.block === layer.name);
      if (first < 1) return;
      const y0 = middle(rows[first - 1]);
      const y1 = middle(rows[k]);
      const path = svg('path', { d: `M 21 ${y0} C 2 ${y0}, 2 ${y1}, 21 ${y1}`, class: 'skip-arc' });
      const title = svg('title');
      title.textContent = `skip connection: ${layer.name} adds its input back (h = σ(F(h) + h))`;
      path.append(title);
      plot.append(path);
    });
    gutter.append(plot);
  }

  markLayer() {
    for (const row of document.querySelectorAll('#model-network .layer-row[data-layer]')) {
      row.classList.toggle('selected', row.dataset.layer === this.state.layer);
    }
  }

  drawCurves(step) {
    const holder = $('model-curves');
    if (!this.info) return;
    const { columns, rows } = this.info.metrics;
    const col = (name) => columns.indexOf(name);
    const series = (name, className) => ({ name, className,
      points: rows.map((r) => [r[0], r[col(name)]]).filter(([, y]) => y !== null) });
    const ticks = this.info.checkpoints.map((c) => c.step);
    holder.replaceChildren();
    if (!rows.length) {
      holder.append(element('p', 'hint', 'This run has no metrics.jsonl rows to draw.'));
      return;
    }
    // a click on a curve picks the kept checkpoint nearest to it
    const nearest = (x) => ticks.reduce((best, t, k) => (Math.abs(t - x) < Math.abs(ticks[best] - x) ? k : best), 0);
    for (const [title, names, range] of [['loss', ['train_loss', 'test_loss'], null],
      ['accuracy', ['train_acc', 'test_acc'], [0, 1]]]) {
      const figure = element('figure', 'curve');
      figure.append(element('figcaption', '', title));
      figure.append(linePlot({ series: names.map((n) => series(n, n.startsWith('train') ? 'train' : 'test')),
        marker: step, ticks, yRange: range, width: 280, height: 104,
        onPick: ticks.length > 1 ? (x) => this.chooseCheckpoint(nearest(x)) : null }));
      holder.append(figure);
    }
    const legend = element('p', 'hint curve-legend');
    legend.append(element('span', 'key train', 'training'), ' ', element('span', 'key test', 'test'),
      ` from metrics.jsonl · dots: kept checkpoints (click one) · line: step ${step}, the one shown`);
    holder.append(legend);
  }

  // ------------------------------------------------------------------ examples
  drawExampleList() {
    const answer = this.examplesAnswer;
    const holder = $('model-example-list');
    holder.replaceChildren();
    $('model-example').max = Math.max(0, answer.total - 1);
    const filtered = this.state.cls !== null || this.state.wrong;
    $('model-example-note').textContent = filtered
      ? `${answer.matched} of ${answer.scanned} test examples${answer.scanned < answer.total ? ` (the first ${answer.scanned} of ${answer.total})` : ''}${answer.matched > answer.examples.length ? `; the first ${answer.examples.length} listed` : ''}`
      : `${answer.total} test examples, numbered 0 to ${answer.total - 1}`;
    if (!filtered) return;
    const classes = this.info.classes;
    for (const e of answer.examples) {
      const chip = element('button', 'example-chip', `#${e.index}`);
      chip.type = 'button';
      chip.dataset.example = String(e.index);
      chip.title = `test example ${e.index}: label ${classes[e.label]}${e.predicted !== null ? `, predicted ${classes[e.predicted]}` : ''}`;
      if (e.predicted !== null) chip.append(element('span', 'sub', ` ${classes[e.label]}→${classes[e.predicted]}`));
      holder.append(chip);
    }
    if (!answer.examples.length) holder.append(element('span', 'hint', 'none'));
  }

  drawExample() {
    const answer = this.exampleAnswer;
    const info = this.info;
    $('model-example').value = answer.example === null ? '' : answer.example;
    for (const chip of document.querySelectorAll('#model-example-list [data-example]')) {
      chip.classList.toggle('active', Number(chip.dataset.example) === answer.example);
    }
    // the input
    const figure = $('model-input');
    figure.replaceChildren();
    const shape = info.input_shape;
    if (shape.length === 2) {
      const values = answer.input[0];
      figure.append(linePlot({ series: [{ name: 'x', points: values.map((v, t) => [t, v]), className: 'signal' }],
        width: 320, height: 120 }));
    } else {
      const canvas = element('canvas', 'input-image');
      const gray = shape[0] === 1;
      const tiles = gray ? tilesOf(answer.input, 1) : [{ index: [], rows: answer.input[0].map((row, r) => row.map((_, c) => [0, 1, 2].map((k) => answer.input[k][r][c]))) }];
      drawTiles(canvas, { tiles: [tiles[0]], perRow: 1, cell: Math.max(4, Math.floor(160 / shape[2])), gap: 0,
        colour: gray ? grayOf : (rgb) => `rgb(${rgb.map((v) => Math.round(255 * Math.max(0, Math.min(1, v)))).join(',')})` });
      figure.append(canvas);
    }
    const what = answer.example !== null ? `test example ${answer.example}` : 'your drawing';
    const label = answer.label !== null ? `, label ${info.classes[answer.label]}` : '';
    $('model-input-caption').textContent = `${what}${label} · ${shape.join(' × ')}`;
    // the prediction
    const bars = $('model-probabilities');
    bars.replaceChildren();
    answer.probabilities.forEach((p, k) => {
      const row = element('div', 'prob-row');
      if (k === answer.predicted) row.classList.add('predicted');
      if (k === answer.label) row.classList.add('label');
      const bar = element('span', 'prob-bar');
      const fill = element('span', 'prob-fill');
      fill.style.width = `${Math.max(0, Math.min(1, Number(p) || 0)) * 100}%`;
      bar.append(fill);
      row.append(element('span', 'prob-name', info.classes[k]), bar, element('span', 'prob-value', `${((Number(p) || 0) * 100).toFixed(1)}%`));
      row.title = `p(${info.classes[k]}) = ${p}`;
      bars.append(row);
    });
    const right = answer.label === null ? '' : answer.predicted === answer.label ? ' ✓ correct' : ' ✗ wrong';
    $('model-verdict').textContent = `predicted ${info.classes[answer.predicted]}${right} · loss ${number(answer.loss)} (cross-entropy against ${answer.label !== null ? 'the label' : 'the predicted class'}) · step ${answer.step}`;
    // per-layer gradient norms in the column
    const norms = new Map(answer.layers.map((l) => [l.name, l]));
    const largest = Math.max(1e-12, ...answer.layers.map((l) => l.grad_norm || 0));
    for (const row of document.querySelectorAll('#model-network .layer-row[data-layer]')) {
      const stats = norms.get(row.dataset.layer);
      const fill = row.querySelector('.grad-bar');
      const value = row.querySelector('.grad-value');
      if (!stats) { fill.style.width = '0'; value.textContent = ''; continue; }
      fill.style.width = `${Math.round(((stats.grad_norm || 0) / largest) * 100)}%`;
      value.textContent = number(stats.grad_norm, 3);
      row.title = `${stats.name}: mean ${number(stats.mean)}, std ${number(stats.std)}, ‖∂L/∂output‖ ${number(stats.grad_norm)}${stats.weight_grad_norm !== null ? `, ‖∂L/∂weights‖ ${number(stats.weight_grad_norm)}` : ''}`;
    }
  }

  // ------------------------------------------------------------------ one layer
  drawLayer() {
    const answer = this.layerAnswer;
    this.markLayer();
    const info = this.info.layers.find((l) => l.name === answer.name);
    $('model-layer-title').textContent = `${answer.name} · ${answer.type}`;
    const s = answer.stats;
    $('model-layer-stats').textContent = `output ${answer.output_shape.join(' × ')} · ${info ? info.params.toLocaleString('en') : 0} parameters · mean ${number(s.mean)}, std ${number(s.std)} · ‖∂L/∂output‖ ${number(s.grad_norm)}${s.weight_grad_norm !== null ? ` · ‖∂L/∂weights‖ ${number(s.weight_grad_norm)}` : ''}`;
    const conv = answer.conv;
    $('model-layer-hint').textContent = conv
      ? 'Click a feature-map cell for the window and filter that made it; click a weight (filters or ∂L/∂w) for its gradient as the sum of its uses.'
      : 'Windows and filters are shown for convolution layers; pick one in the network column.';
    this.drawMaps('model-maps', answer.output, 'output', (hit) => {
      if (!conv) return;
      this.state.cell = [...hit.index, ...(answer.output_shape.length === 3 ? [hit.r, hit.c] : [hit.c])];
      this.refresh('detail');
    });
    $('model-grad-group').hidden = !answer.grad_output;
    if (answer.grad_output) this.drawMaps('model-grads', answer.grad_output, '∂L/∂output', null);
    $('model-filters-group').hidden = !conv;
    $('model-wgrad-group').hidden = !conv;
    $('model-filters-note').hidden = !conv;
    if (conv) {
      const pick = (hit) => {
        this.state.weight = [...hit.index, ...(conv.weight_shape.length === 4 ? [hit.r, hit.c] : [hit.c])];
        this.refresh('detail');
      };
      this.drawFilters('model-filters', conv.weight, 'w', pick);
      this.drawFilters('model-wgrad', conv.grad_weight, '∂L/∂w', pick);
      $('model-filters-note').textContent = `Filters ${conv.weight_shape.join(' × ')}: one row per output channel o, one kernel per input channel c${conv.groups > 1 ? ` of its group (groups = ${conv.groups})` : ''}; stride ${conv.stride.join('×')}, padding ${conv.padding.map((p) => p.join('+')).join(', ')}${conv.padding_mode !== 'zeros' ? ` (${conv.padding_mode})` : ''}, dilation ${conv.dilation.join('×')}${conv.bias ? ', with a bias' : ''}`;
    }
  }

  // Feature maps (or their gradient): one tile per channel, one colour scale for the layer.
  drawMaps(id, values, name, onPick) {
    const holder = $(id);
    const shape = this.layerAnswer.output_shape;
    const scale = absMax(values);
    const tiles = tilesOf(values, shape.length === 1 ? 0 : 1);
    const width = Math.max(200, (holder.parentElement.clientWidth || 600) - 20);
    const cols = shape[shape.length - 1];
    let perRow = 1;
    let cell;
    if (shape.length === 3) {
      cell = fitCell(width / Math.min(8, shape[0]), cols + 1, 3, 14);
      perRow = Math.max(1, Math.floor((width + 6) / (cols * cell + 6)));
    } else {
      cell = fitCell(width, cols, 3, 22);
    }
    const canvas = element('canvas', 'maps');
    const marks = [];
    const selected = this.state.cell;
    if (selected && onPick) {
      const tile = tiles.findIndex((t) => t.index[0] === selected[0]);
      if (tile >= 0) marks.push({ tile, r: shape.length === 3 ? selected[1] : 0, c: selected[selected.length - 1] });
    }
    const map = drawTiles(canvas, { tiles, perRow, cell, gap: shape.length === 3 ? 6 : 2, colour: (v) => colourOf(v, scale), marks,
      label: shape.length === 3 ? (t) => `c${t.index[0]}` : null });
    const readout = element('p', 'readout', 'Hover a cell for its value.');
    canvas.addEventListener('mousemove', (event) => {
      const hit = map.at(event);
      if (!hit) return;
      const at = [...hit.index, ...(shape.length === 3 ? [hit.r, hit.c] : [hit.c])];
      readout.textContent = `${name} ${indexText(this.layerAnswer.name, at)} = ${fmt(hit.value)}`;
    });
    if (onPick) {
      canvas.addEventListener('click', (event) => { const hit = map.at(event); if (hit) onPick(hit); });
      canvas.classList.add('pickable');
    }
    const lines = shape.length === 2 ? `one row per channel, ${cols} positions` : shape.length === 3 ? 'one tile per channel' : `${cols} values`;
    holder.replaceChildren(scaleBar(scale, lines), element('div', 'canvas-wrap'), readout);
    holder.children[1].append(canvas);
  }

  // A conv weight (or its gradient) as a matrix of kernels: row o, column c.
  drawFilters(id, values, name, onPick) {
    const holder = $(id);
    const conv = this.layerAnswer.conv;
    const [outC, inC, ...k] = conv.weight_shape;
    const scale = absMax(values);
    const tiles = tilesOf(values, 2);
    const width = Math.max(200, (holder.parentElement.clientWidth || 600) - 20);
    const across = inC * (k[k.length - 1] + 0.4);
    const cell = fitCell(width, across, 2, 10);
    const canvas = element('canvas', 'maps pickable');
    const marks = [];
    if (this.state.cell) {
      // the filter of the picked feature-map cell: every kernel in row o
      for (let c = 0; c < inC; c++) marks.push({ tile: this.state.cell[0] * inC + c, r: 0, c: 0, width: k[k.length - 1], height: k.length === 2 ? k[0] : 1, colour: '#2563eb' });
    }
    if (this.state.weight) {
      const [o, c, ...tap] = this.state.weight;
      if (o < outC && c < inC) marks.push({ tile: o * inC + c, r: tap.length === 2 ? tap[0] : 0, c: tap[tap.length - 1], colour: '#e4620c' });
    }
    const map = drawTiles(canvas, { tiles, perRow: inC, cell, gap: Math.max(2, Math.round(cell * 0.4)), colour: (v) => colourOf(v, scale), marks });
    const readout = element('p', 'readout', 'Hover a weight for its value; click it for its gradient.');
    canvas.addEventListener('mousemove', (event) => {
      const hit = map.at(event);
      if (!hit) return;
      const at = [...hit.index, ...(k.length === 2 ? [hit.r, hit.c] : [hit.c])];
      readout.textContent = `${name}${indexText('', at)} = ${fmt(hit.value)}`;
    });
    canvas.addEventListener('click', (event) => { const hit = map.at(event); if (hit) onPick(hit); });
    holder.replaceChildren(scaleBar(scale, `${outC} × ${inC} kernels of ${k.join('×')}`), element('div', 'canvas-wrap'), readout);
    holder.children[1].append(canvas);
  }

  // ------------------------------------------------------------------ a cell, a weight
  // The layer (its canvases carry the outlines of what is picked), then the picked cell's
  // window and the picked weight's contributions.
  drawDetail() {
    $('model-window').hidden = !this.windowAnswer;
    $('model-contrib').hidden = !this.contribAnswer;
    if (this.layerAnswer) this.drawLayer();
    if (this.windowAnswer) this.drawWindow();
    if (this.contribAnswer) this.drawContributions();
  }

  drawWindow() {
    const answer = this.windowAnswer;
    const conv = this.layerAnswer.conv;
    const body = $('model-window-body');
    const shape = this.layerAnswer.output_shape;
    const positions = shape.slice(1).reduce((a, b) => a * b, 1);
    const cell = answer.window.output_index;
    const flat = cell.slice(1).reduce((acc, v, k) => acc * shape[k + 1] + v, 0);
    const trace = { op: conv.weight_shape.length === 4 ? 'conv2d' : 'conv1d', weight: true,
      input_shape: conv.input_shape, params: { groups: conv.groups } };
    renderWindow(body, trace, answer.window, flat, positions, () => {});
    $('model-window-title').textContent = `${indexText(answer.layer, cell)}: its window and filter`;
    const previous = this.previousLayer(answer.layer);
    $('model-window-link').textContent = `↑ ${answer.layer}`;
    const source = previous ? `the layer above it is ${previous}; what the model's forward applies in between, such as a ReLU, is included` : 'the example itself';
    $('model-window-note').textContent = `The window reads the input ${answer.layer} received (${conv.input_shape.join(' × ')}: ${source}), padded ${conv.padding.map((p) => p.join('+')).join(', ')}; the filter is row o = ${cell[0]} of ${answer.layer}'s weights (outlined in blue above).`;
    const check = $('model-window-engine');
    check.className = `engine ${answer.agrees ? 'good' : 'bad'}`;
    check.textContent = `${answer.agrees ? '✓' : '✗'} Σ products${answer.window.bias !== null ? ' + bias' : ''} = ${fmt(answer.computed)}; the engine's ${indexText(answer.layer, cell)} = ${fmt(answer.engine)} (|Δ| = ${fmt(answer.difference)})`;
  }

  previousLayer(name) {
    const layers = this.info.layers;
    const k = layers.findIndex((l) => l.name === name);
    for (let j = k - 1; j >= 0; j--) {
      if (!layers[j].block || layers[j].block === layers[j].name || layers[j].block === layers[k].block) return layers[j].name;
    }
    return null;
  }

  drawContributions() {
    const answer = this.contribAnswer;
    const conv = this.layerAnswer.conv;
    const [o, c, ...tap] = answer.weight_index;
    const name = indexText('w', answer.weight_index);
    $('model-contrib-title').textContent = `∂L/∂${name} in ${answer.layer}: the sum of its uses`;
    const stride = conv.stride.join(', ');
    $('model-contrib-formula').textContent = `∂L/∂w[o, c, τ] = Σ_t ∂L/∂y[o, t] · x_pad[c′, t·s + τ·d]   with o = ${o}, c = ${c} (input channel c′ = ${answer.input_channel}), τ = (${tap.join(', ')}), s = (${stride})`;
    const maps = $('model-contrib-maps');
    maps.replaceChildren();
    const positions = flatten(answer.products).length;
    const wrap = (values) => (this.layerAnswer.output_shape.length === 3 ? [values] : [[values]]);
    for (const [title, values] of [[`∂L/∂y[${o}, t]`, answer.grad_output], [`x_pad[${answer.input_channel}, t·s + τ·d]`, answer.inputs], ['their product', answer.products]]) {
      const figure = element('figure', 'contrib-map');
      figure.append(element('figcaption', '', title));
      const canvas = element('canvas', 'maps');
      const scale = absMax(values);
      const tiles = tilesOf(wrap(values), 1);
      const cols = tiles[0].rows[0].length;
      const map = drawTiles(canvas, { tiles, perRow: 1, cell: fitCell(240, cols, 3, 16), colour: (v) => colourOf(v, scale) });
      const readout = element('p', 'readout', '');
      canvas.addEventListener('mousemove', (event) => {
        const hit = map.at(event);
        if (!hit) return;
        const t = this.layerAnswer.output_shape.length === 3 ? [hit.r, hit.c] : [hit.c];
        const at = (v) => (t.length === 2 ? v[t[0]][t[1]] : v[t[0]]);
        readout.textContent = `t = (${t.join(', ')}): ${fmt(at(answer.grad_output))} × ${fmt(at(answer.inputs))} = ${fmt(at(answer.products))}`;
      });
      figure.append(scaleBar(scale), canvas, readout);
      maps.append(figure);
    }
    const check = $('model-contrib-engine');
    check.className = `engine ${answer.agrees ? 'good' : 'bad'}`;
    check.textContent = `${answer.agrees ? '✓' : '✗'} Σ over ${positions} positions = ${fmt(answer.total)}; the engine's ∂L/∂${name} = ${fmt(answer.engine)} (|Δ| = ${fmt(answer.difference)})`;
    $('model-contrib-note').textContent = `The weight ${name} = ${fmt(answer.weight)} is reused at every output position t of channel ${o}: each use multiplies one input cell into one output, and each adds ∂L/∂y · x into its gradient.`;
  }

  // ------------------------------------------------------------------ drawing an input
  toggleDrawing() {
    const panel = $('model-draw');
    panel.hidden = !panel.hidden;
    if (!panel.hidden) this.startDrawing(this.state.draw ? 'keep' : 'copy');
  }

  startDrawing(how) {
    const shape = this.info.input_shape;
    const size = shape.reduce((a, b) => a * b, 1);
    if (how === 'keep' && this.state.draw) this.drawing = this.state.draw.slice();
    else if (how === 'copy' && this.exampleAnswer) this.drawing = flatten(this.exampleAnswer.input).map(Number);
    else this.drawing = new Array(size).fill(0);
    this.drawPad();
  }

  drawPad() {
    const canvas = $('model-draw-canvas');
    const shape = this.info.input_shape;
    const context = canvas.getContext('2d');
    if (shape.length === 2) {
      const n = shape[1];
      canvas.width = 320;
      canvas.height = 160;
      context.fillStyle = '#fff';
      context.fillRect(0, 0, 320, 160);
      context.strokeStyle = '#d5dae3';
      context.beginPath();
      context.moveTo(0, 80);
      context.lineTo(320, 80);
      context.stroke();
      context.strokeStyle = '#2456d6';
      context.lineWidth = 2;
      context.beginPath();
      this.drawing.forEach((v, t) => {
        const x = ((t + 0.5) / n) * 320;
        const y = 80 - (v / SIGNAL_RANGE) * 76;
        if (t === 0) context.moveTo(x, y); else context.lineTo(x, y);
      });
      context.stroke();
      $('model-draw-note').textContent = `Drag across the box to draw the signal: ${n} values in [−${SIGNAL_RANGE}, ${SIGNAL_RANGE}], as MNIST-1D's.`;
    } else {
      const [, h, w] = shape;
      const cell = Math.max(6, Math.floor(224 / w));
      canvas.width = w * cell;
      canvas.height = h * cell;
      this.drawing.forEach((v, k) => {
        context.fillStyle = grayOf(v);
        context.fillRect((k % w) * cell, Math.floor(k / w) * cell, cell, cell);
      });
      $('model-draw-note').textContent = `Paint with the pointer: light strokes on dark (values 0 to 1), as the data set's digits; ${h}×${w} pixels.`;
    }
  }

  paint(event) {
    if (!this.drawing) return;
    const canvas = event.currentTarget;
    const rect = canvas.getBoundingClientRect();
    const x = (event.clientX - rect.left) / rect.width;
    const y = (event.clientY - rect.top) / rect.height;
    const shape = this.info.input_shape;
    if (shape.length === 2) {
      const n = shape[1];
      const t = Math.max(0, Math.min(n - 1, Math.floor(x * n)));
      this.drawing[t] = Math.max(-SIGNAL_RANGE, Math.min(SIGNAL_RANGE, (0.5 - y) * 2 * SIGNAL_RANGE * (80 / 76)));
    } else {
      // the pixel under the pointer full; on a 28×28 canvas a soft edge around it too
      const [, h, w] = shape;
      const col = x * w;
      const row = y * h;
      const radius = w > 10 ? 1.2 : 0;
      for (let r = Math.floor(row - radius); r <= Math.floor(row + radius); r++) {
        for (let c = Math.floor(col - radius); c <= Math.floor(col + radius); c++) {
          if (r < 0 || c < 0 || r >= h || c >= w) continue;
          const under = r === Math.floor(row) && c === Math.floor(col);
          const distance = Math.hypot(r + 0.5 - row, c + 0.5 - col);
          const ink = under ? 1 : Math.max(0, 1 - distance / (radius + 0.5));
          this.drawing[r * w + c] = Math.min(1, Math.max(this.drawing[r * w + c], ink));
        }
      }
    }
    this.drawPad();
  }

  useDrawing() {
    if (!this.drawing) return;
    this.state.draw = this.drawing.map((v) => Number(v.toFixed(3)));
    this.state.example = null;
    this.state.cell = null;
    this.refresh('example');
  }

  // What the tests read (and the curious): the answers drawn, read-only copies.
  snapshot() {
    return structuredClone({ state: this.state, run: this.info, example: this.exampleAnswer,
      layer: this.layerAnswer, window: this.windowAnswer, contributions: this.contribAnswer,
      examples: this.examplesAnswer });
  }
}
