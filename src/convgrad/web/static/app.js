// convgrad explore: the page. It turns the controls into an API request, draws the answer
// (the trace of convgrad.explain), and lets the user step, hover, pick and edit. Every number
// on the page is a field of the API's answer; this file computes none of them.
import {
  applyPreset, boundedMax, conform, defaultState, flatIndex, flatten, fromQuery, hasWeights,
  inputShape, LIMITS, opName, requestBody, toQuery, weightShape,
} from './state.js';
import {
  channelBlocks, element, fmt, keyOf, parseNumber, Registry, weightBlocks,
} from './grids.js';
import { renderDense, renderEngine, renderGradient, renderSize, renderWindow } from './views.js';
import { ImageMode } from './image.js';
import { LandscapeMode } from './landscape.js';

const $ = (id) => document.getElementById(id);
const SPEEDS = [0.5, 1, 2, 3, 5, 8]; // outputs per second
const HIGHLIGHTS = ['cur', 'win', 'tap', 'src', 'hot', 'w-use', 'w-out', 'picked'];

let state = defaultState();
let current = null; // the last good API answer
let hoverTerm = null; // {input, weight, output} under the pointer in a detail view
let playing = null; // interval id
let requestSeq = 0;
let refreshTimer = null;
let urlTimer = null;
const registry = new Registry();
let imageMode = null;
let landscapeMode = null;
let linkProblems = []; // settings of the opening link that could not be used, until a change

// ------------------------------------------------------------------ talking to the API
async function postJSON(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const detail = data && data.detail ? data.detail : `the server answered ${response.status}`;
    const error = new Error(typeof detail === 'string' ? detail : JSON.stringify(detail));
    error.kind = data && data.kind; // 422: invalid, impossible or too_large
    error.errors = (data && data.errors) || [];
    throw error;
  }
  return data;
}

function refresh(delay = 80) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(load, delay);
}

async function load() {
  const seq = ++requestSeq;
  const op = opName(state);
  document.body.classList.add('busy');
  try {
    const data = await postJSON(`/api/${op}`, requestBody(state));
    if (seq !== requestSeq) return; // a newer request is on its way
    showProblem(linkProblems.length ? { kind: 'link', message: linkProblems.map((p) => p.message).join('; '), errors: linkProblems } : null);
    render(data);
  } catch (error) {
    if (seq !== requestSeq) return;
    showProblem(error.message === 'Failed to fetch'
      ? { message: 'Cannot reach the convgrad server: is `convgrad explore` still running?', errors: [] }
      : { kind: error.kind, message: error.message, errors: [...linkProblems, ...error.errors] });
    if (!current && error.errors.length) await loadExample(seq);
  } finally {
    if (seq === requestSeq) document.body.classList.remove('busy');
    saveURL();
  }
}

// A link whose settings cannot be shown still opens a page: the operation's example, dimmed
// behind the message, as typing an impossible setting keeps the last valid view.
async function loadExample(seq) {
  try {
    const data = await postJSON(`/api/${opName(state)}`, requestBody(defaultState(state.dims, state.family)));
    if (seq !== requestSeq) return;
    render(data);
    $('view').classList.add('stale');
    $('message').append(element('span', 'sub', " (the operation's example is shown dimmed)"));
  } catch (e) { /* the message already says what is wrong */ }
}

const PREFIXES = {
  impossible: 'Not possible: ', invalid: 'Not accepted: ', too_large: 'Too large to show: ',
  link: 'From the link: ',
};

// The message above the view, and the controls it is about marked (as the API names them in
// `errors`, or the link's settings that could not be used).
function showProblem(problem) {
  const box = $('message');
  markFields(problem ? problem.errors : []);
  if (problem) {
    const blocking = problem.kind !== 'link';
    box.replaceChildren(element('strong', '', PREFIXES[problem.kind] || 'Not possible: '), element('span', 'detail', problem.message));
    if (current && blocking) box.append(element('span', 'sub', ' (the last valid view is shown dimmed)'));
    box.hidden = false;
    box.classList.toggle('notice', !blocking);
    $('view').classList.toggle('stale', Boolean(current) && blocking);
  } else {
    box.hidden = true;
    $('view').classList.remove('stale');
  }
  // before the first valid answer there is nothing to show but the message
  $('view').hidden = !current;
}

// API field (or the link's setting) -> the controls that set it
const FIELD_CONTROLS = {
  input: ['.axes[data-field=size] input', '#cin'], size: ['.axes[data-field=size] input'],
  cin: ['#cin'], cout: ['#cout'], weight: ['.axes[data-field=kernel] input', '#cout', '#cin'],
  kernel_size: ['.axes[data-field=kernel] input'], kernel: ['.axes[data-field=kernel] input'],
  groups: ['#groups'], bias: ['#bias'], stride: ['.axes[data-field=stride] input', '#stride-auto'],
  padding: ['.axes[data-field=padding] input', '#padding-kind'], padding_mode: ['#padding-mode'],
  paddingMode: ['#padding-mode'], dilation: ['.axes[data-field=dilation] input'],
  output_padding: ['.axes[data-field=outputPadding] input'],
  outputPadding: ['.axes[data-field=outputPadding] input'],
};

function markFields(errors) {
  for (const el of document.querySelectorAll('#settings .invalid')) {
    el.classList.remove('invalid');
    el.removeAttribute('aria-invalid');
    el.removeAttribute('title');
  }
  for (const { field, message } of errors) {
    for (const selector of FIELD_CONTROLS[field.split(/[.[]/)[0]] || []) {
      for (const el of document.querySelectorAll(`#settings ${selector}`)) {
        el.classList.add('invalid');
        el.setAttribute('aria-invalid', 'true');
        el.title = message;
      }
    }
  }
}

// ------------------------------------------------------------------ the URL
function saveURL() {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => {
    const special = [imageMode, landscapeMode].find((mode) => mode && mode.active);
    const query = special ? special.query() : toQuery(state);
    history.replaceState(null, '', `${location.pathname}?${query}`);
  }, 60);
}

// ------------------------------------------------------------------ controls
function axisNames(dims) { return dims === 2 ? ['H', 'W'] : ['L']; }

// Each number the form offers: its range, the top of it lowered to what the explorer's size
// bound allows with the other settings as they are (state.boundedMax), where the setting
// makes the trace longer.
const AXIS_FIELDS = {
  size: { min: 1, limit: () => (state.dims === 2 ? LIMITS.side2d : LIMITS.length1d), bounded: true },
  kernel: { min: 1, limit: () => LIMITS.kernel, bounded: true },
  stride: { min: 1, limit: () => LIMITS.stride },
  padding: { min: 0, limit: () => LIMITS.padding, bounded: true },
  dilation: { min: 1, limit: () => LIMITS.dilation },
  outputPadding: { min: 0, limit: () => LIMITS.outputPadding, bounded: true },
};
const CHANNEL_FIELDS = { cin: true, cout: true, groups: false };

function fieldMax(field, axis) {
  const spec = AXIS_FIELDS[field];
  const limit = spec ? spec.limit() : LIMITS.channels;
  const bounded = spec ? spec.bounded : CHANNEL_FIELDS[field];
  if (!bounded) return limit;
  // never below the value shown: a link may hold one the bound refuses (the API says so)
  const current = axis === null ? state[field] : state[field][axis];
  return Math.max(current, boundedMax(state, field, axis, spec ? spec.min : 1, limit));
}

function buildAxisInputs() {
  for (const row of document.querySelectorAll('.axes')) {
    const field = row.dataset.field;
    const label = row.firstElementChild;
    row.replaceChildren(label);
    axisNames(state.dims).forEach((name, axis) => {
      const wrap = element('label', 'axis-input');
      const input = document.createElement('input');
      input.type = 'number';
      input.min = AXIS_FIELDS[field].min;
      input.step = 1;
      input.dataset.field = field;
      input.dataset.axis = axis;
      input.setAttribute('aria-label', `${field} ${name}`);
      wrap.append(element('span', 'axis-tag', name), input);
      row.append(wrap);
    });
  }
}

function syncControls() {
  const s = state;
  $('family').value = s.family;
  for (const radio of document.querySelectorAll('input[name=dims]')) radio.checked = Number(radio.value) === s.dims;
  $('op-name').textContent = `F.${opName(s)}`;
  for (const input of document.querySelectorAll('.axes input')) {
    input.value = s[input.dataset.field][Number(input.dataset.axis)];
    input.max = fieldMax(input.dataset.field, Number(input.dataset.axis));
  }
  for (const id of Object.keys(CHANNEL_FIELDS)) $(id).max = fieldMax(id, null);
  $('cin').value = s.cin;
  $('cout').value = s.cout;
  $('groups').value = s.groups;
  $('bias').checked = s.bias;
  $('stride-auto').checked = s.strideAuto;
  $('padding-kind').value = s.paddingKind;
  $('padding-mode').value = s.paddingMode;
  $('ceil-mode').checked = s.ceilMode;
  $('count-include-pad').checked = s.countIncludePad;
  for (const el of document.querySelectorAll('[data-for]')) {
    el.hidden = !el.dataset.for.split(' ').includes(s.family);
  }
  const pool = s.family === 'max' || s.family === 'avg';
  for (const input of document.querySelectorAll('.axes[data-field=stride] input')) input.disabled = pool && s.strideAuto;
  const paddingRow = document.querySelector('.axes[data-field=padding]');
  paddingRow.hidden = s.family === 'conv' && s.paddingKind !== 'int';
  paddingRow.querySelector('.padding-label').textContent = s.family === 'conv' ? 'p' : 'Padding';
  $('settings-summary').textContent = summary(s);
  const example = document.querySelector('[data-preset=notes1]');
  example.textContent = s.dims === 2 ? 'Notes example' : 'Ramp example';
  example.title = s.dims === 2 ? "The notes' first 2D example: a 4×4 input and a 2×2 kernel of ones"
    : 'A rise and fall through a difference kernel';
  // bias values, one per output channel
  const biasRow = $('bias-values');
  biasRow.hidden = !(hasWeights(s) && s.bias);
  const holder = biasRow.querySelector('.bias-inputs');
  holder.replaceChildren();
  if (s.bias && s.b) {
    s.b.forEach((value, k) => {
      const input = document.createElement('input');
      input.type = 'number';
      input.step = 'any';
      input.value = value;
      input.dataset.bias = k;
      input.setAttribute('aria-label', `bias ${k}`);
      holder.append(input);
    });
  }
}

// One line saying what is set, for the collapsed settings panel on small screens.
function summary(s) {
  const parts = [`F.${opName(s)}`, `input ${[s.cin, ...s.size].join('×')}`, `kernel ${s.kernel.join('×')}`];
  const pool = s.family === 'max' || s.family === 'avg';
  parts.push(`stride ${pool && s.strideAuto ? 'k' : s.stride.join('×')}`);
  parts.push(`padding ${s.family === 'conv' && s.paddingKind !== 'int' ? s.paddingKind : s.padding.join('×')}`);
  return parts.join(' · ');
}

function readInt(input, low, high) {
  const value = Number(input.value);
  if (input.value === '' || !Number.isInteger(value)) return null;
  return Math.min(high, Math.max(low, value));
}

function changeSettings(mutate, { rebuild = false } = {}) {
  linkProblems = [];
  const previous = structuredClone(state);
  mutate(state);
  conform(state, previous);
  state.g = null; // the output's shape may change: the upstream gradient goes back to ones
  state.gShape = null;
  if (rebuild) buildAxisInputs();
  syncControls();
  refresh();
}

function onControl(event) {
  const t = event.target;
  // numbers update as they are typed; selects, radios and boxes once, on 'change'
  const typed = t.type === 'number' || t.type === 'text';
  if (event.type === 'input' && !typed) return;
  if (t.dataset.field) {
    const spec = AXIS_FIELDS[t.dataset.field];
    const value = readInt(t, spec.min, fieldMax(t.dataset.field, Number(t.dataset.axis)));
    if (value === null) {
      if (event.type === 'change') syncControls(); // an emptied field shows the value again
      return;
    }
    if (event.type === 'change') t.value = value;
    if (state[t.dataset.field][Number(t.dataset.axis)] === value) return;
    changeSettings((s) => { s[t.dataset.field][Number(t.dataset.axis)] = value; });
    return;
  }
  if (t.dataset.bias !== undefined) {
    const value = Number(t.value);
    if (t.value === '' || !Number.isFinite(value)) return;
    state.b[Number(t.dataset.bias)] = value;
    refresh();
    return;
  }
  switch (t.id || t.name) {
    case 'family':
      changeFamily(t.value, state.dims);
      break;
    case 'dims':
      changeFamily(state.family, Number(t.value));
      break;
    case 'cin': case 'cout': case 'groups': {
      const value = readInt(t, 1, fieldMax(t.id, null));
      if (value === null && event.type === 'change') syncControls();
      if (value === null || state[t.id] === value) return;
      changeSettings((s) => { s[t.id] = value; });
      break;
    }
    case 'bias':
      changeSettings((s) => { s.bias = t.checked; if (!t.checked) s.b = null; });
      break;
    case 'stride-auto':
      changeSettings((s) => { s.strideAuto = t.checked; if (t.checked) s.stride = s.kernel.slice(); });
      break;
    case 'padding-kind':
      changeSettings((s) => { s.paddingKind = t.value; });
      break;
    case 'padding-mode':
      changeSettings((s) => { s.paddingMode = t.value; });
      break;
    case 'ceil-mode':
      changeSettings((s) => { s.ceilMode = t.checked; });
      break;
    case 'count-include-pad':
      changeSettings((s) => { s.countIncludePad = t.checked; });
      break;
    case 'click':
      document.body.dataset.click = t.value;
      break;
    default:
  }
}

// A new operation keeps what carries over (the input, the sliding settings) when the
// dimensions stay; a change of dimensions starts from that family's example.
function changeFamily(family, dims) {
  if (family === state.family && dims === state.dims) return;
  stop();
  linkProblems = [];
  if (dims !== state.dims) {
    state = defaultState(dims, family);
  } else {
    const previous = structuredClone(state);
    state.family = family;
    if (!hasWeights(state)) {
      if (previous.family === 'conv' || previous.family === 'transpose') {
        state.kernel = state.kernel.map(() => 2);
        state.strideAuto = true;
      }
      state.padding = state.padding.map((p) => Math.min(p, 1));
    } else if (!hasWeights(previous)) {
      state.stride = state.stride.map(() => 1);
      state.padding = state.padding.map(() => 0);
    }
    if (family !== 'conv') state.paddingKind = 'int';
    const sameShape = String(weightShape(previous)) === String(weightShape(state));
    state.w = sameShape ? previous.w : null; // a 1-channel kernel carries over
    state.b = state.bias && hasWeights(state) ? state.b : null;
    if (!hasWeights(state)) state.bias = false;
    conform(state, null);
    state.x = previous.x;
  }
  state.g = null;
  state.gShape = null;
  state.cursor = 0;
  state.pick = null;
  buildAxisInputs();
  syncControls();
  refresh(0);
}

function onPreset(event) {
  const name = event.target.dataset.preset;
  if (!name) return;
  stop();
  linkProblems = [];
  if (name === 'reset') {
    state = defaultState(state.dims, state.family);
  } else {
    const previous = structuredClone(state);
    applyPreset(state, name);
    if (name.startsWith('notes') && state.size.join() !== previous.size.join()) state.cursor = 0;
  }
  state.pick = null;
  buildAxisInputs();
  syncControls();
  refresh(0);
}

// ------------------------------------------------------------------ drawing an answer
function setCellSize(container, columns) {
  const width = container.clientWidth || 600;
  const fit = Math.floor((width - 40) / (columns + 1));
  const size = Math.max(20, Math.min(columns > 12 ? 30 : 40, fit));
  container.style.setProperty('--cell', `${size}px`);
}

function render(data) {
  current = data;
  $('view').hidden = false;
  const trace = data.trace;
  registry.clear();
  const dims = trace.dims;
  const titleOf = (name, channels) => (ch) => (channels > 1 ? `${name}[${ch}]` : name);

  // input (with its padding drawn in)
  const padded = trace.padded_input;
  const inShape = padded ? padded.shape : trace.input_shape;
  const copies = trace.params.padding_mode && trace.params.padding_mode !== 'zeros';
  $('input-grids').replaceChildren(...channelBlocks({
    values: padded ? padded.values : trace.input,
    kinds: padded ? padded.kinds : null,
    sources: padded ? padded.sources : null,
    origin: padded ? padded.origin : null,
    shape: inShape, dims, role: 'x', registry,
    titleOf: titleOf('x', trace.input_shape[0]),
    titleFor: (index, kind, source) => (kind === 'padding'
      ? (source ? `padding x[${index.join(', ')}]: a copy of x[${source.join(', ')}] (${trace.params.padding_mode})`
        : `padding x[${index.join(', ')}]`)
      : `x[${index.join(', ')}]`),
  }));
  $('input-shape').textContent = `${trace.input_shape.join(' × ')}${padded ? ` (padded: ${padded.shape.slice(1).join(' × ')}${copies ? `, ${trace.params.padding_mode}` : ''})` : ''}`;

  // kernel
  const hasW = Boolean(trace.weight);
  $('weight-group').hidden = !hasW;
  if (hasW) {
    const transpose = trace.op.startsWith('conv_transpose');
    $('weight-grids').replaceChildren(weightBlocks({
      values: trace.weight, shape: trace.weight_shape, dims, role: 'w', registry,
      firstName: transpose ? 'c' : 'o', secondName: transpose ? 'o' : 'c',
    }));
    $('weight-shape').textContent = trace.weight_shape.join(' × ') + (trace.bias ? `, bias ${trace.bias.map(fmt).join(', ')}` : '');
  }

  // output
  $('output-grids').replaceChildren(...channelBlocks({
    values: trace.output, shape: trace.output_shape, dims, role: 'y', registry, name: 'y',
    titleOf: titleOf('y', trace.output_shape[0]),
  }));
  $('output-shape').textContent = trace.output_shape.join(' × ');

  // backward
  const back = trace.backward;
  $('grad-output-grids').replaceChildren(...channelBlocks({
    values: back.grad_output, shape: trace.output_shape, dims, role: 'gy', registry, name: '∂L/∂y',
    titleOf: titleOf('∂L/∂y', trace.output_shape[0]),
  }));
  $('grad-weight-group').hidden = !back.grad_weight;
  if (back.grad_weight) {
    const transpose = trace.op.startsWith('conv_transpose');
    $('grad-weight-grids').replaceChildren(weightBlocks({
      values: back.grad_weight, shape: trace.weight_shape, dims, role: 'gw', registry, name: '∂L/∂w',
      firstName: transpose ? 'c' : 'o', secondName: transpose ? 'o' : 'c',
    }));
  }
  $('grad-bias-group').hidden = !back.grad_bias;
  if (back.grad_bias) {
    const row = element('div', 'bias-row');
    back.grad_bias.forEach((value, o) => {
      const el = element('div', 'cell bias', fmt(value));
      el.dataset.key = keyOf('gb', [o]);
      el.dataset.role = 'gb';
      el.dataset.index = String(o);
      el.dataset.value = String(value);
      el.title = `∂L/∂b[${o}]`;
      registry.add(el.dataset.key, el);
      row.append(el);
    });
    $('grad-bias-grids').replaceChildren(row);
  }
  $('grad-input-grids').replaceChildren(...channelBlocks({
    values: back.grad_input, shape: trace.input_shape, dims, role: 'gx', registry, name: '∂L/∂x',
    titleOf: titleOf('∂L/∂x', trace.input_shape[0]),
  }));
  const formulas = $('backward-formulas');
  formulas.replaceChildren();
  for (const [name, text] of Object.entries(back.formulas)) {
    const line = element('div', 'formula-line');
    line.append(element('span', 'label', `${name} `), element('code', '', text));
    formulas.append(line);
  }

  const columns = Math.max(inShape[inShape.length - 1], trace.output_shape[trace.output_shape.length - 1]);
  setCellSize($('forward-card'), columns);
  setCellSize($('backward-card'), columns);

  const family = trace.op.startsWith('conv_transpose') ? 'transpose'
    : trace.op.startsWith('conv') ? 'conv' : trace.op.slice(0, 3);
  $('forward-title').textContent = {
    conv: "Forward: each output is a window's products, summed",
    transpose: 'Forward: each output gathers the products that land on it',
    max: 'Forward: each output is the maximum of its window',
    avg: 'Forward: each output is the mean of its window',
  }[family] || $('forward-title').textContent;
  $('backward-title').textContent = hasW
    ? 'Backward: every use of a weight adds into its gradient'
    : 'Backward: each upstream gradient flows back to the cells that made its output';
  $('legend-source').hidden = !copies;
  $('legend-pick').textContent = hasW ? 'uses the picked weight, or is fed by it' : 'fed by the picked cell';
  renderSize($('axes'), $('op-formula'), trace);
  renderDense($('dense'), data.counts);
  renderEngine($('engine'), data.engine);
  $('snippet').textContent = data.snippet;

  // keep the cursor and the pick when they still exist
  if (state.cursor >= trace.windows.length) state.cursor = 0;
  if (state.pick && !gradientOf(state.pick)) state.pick = null;
  highlight();
}

// ------------------------------------------------------------------ selection and highlights
function gradientOf(pick) {
  if (!current || !pick) return null;
  const trace = current.trace;
  const back = trace.backward;
  const inside = (index, shape) => index.length === shape.length && index.every((v, k) => v >= 0 && v < shape[k]);
  if (pick.kind === 'weight' && back.weight && inside(pick.index, trace.weight_shape)) {
    return back.weight[flatIndex(pick.index, trace.weight_shape)];
  }
  if (pick.kind === 'bias' && back.bias && pick.index[0] < back.bias.length) return back.bias[pick.index[0]];
  if (pick.kind === 'input' && inside(pick.index, trace.input_shape)) {
    return back.input[flatIndex(pick.index, trace.input_shape)];
  }
  return null;
}

function shownWindow() {
  return { win: current.trace.windows[state.cursor], flat: state.cursor };
}

function highlight() {
  if (!current) return;
  hoverTerm = null; // the detail panels are redrawn below, and what was hovered goes with them
  const trace = current.trace;
  registry.unmark(HIGHLIGHTS);
  const { win, flat } = shownWindow();
  if (win) {
    registry.mark(keyOf('y', win.output_index), 'cur');
    registry.mark(keyOf('gy', win.output_index), 'cur');
    for (const term of win.terms) {
      registry.mark(keyOf('x', term.input.index), 'win');
      if (term.weight_index) registry.mark(keyOf('w', term.weight_index), 'tap');
    }
  }
  const pick = state.pick;
  const gradient = gradientOf(pick);
  if (gradient) {
    if (pick.kind === 'weight') {
      registry.mark(keyOf('w', pick.index), 'picked');
      registry.mark(keyOf('gw', pick.index), 'picked');
    } else if (pick.kind === 'bias') {
      registry.mark(keyOf('gb', pick.index), 'picked');
    } else {
      registry.mark(keyOf('x', pick.index), 'picked');
      registry.mark(keyOf('gx', pick.index), 'picked');
    }
    for (const c of gradient.contributions) {
      registry.mark(keyOf('y', c.output_index), 'w-out');
      registry.mark(keyOf('gy', c.output_index), 'w-out');
      if (c.input && pick.kind === 'weight') registry.mark(keyOf('x', c.input.index), 'w-use');
    }
  }
  lightOnly();
  const total = trace.windows.length;
  $('step-position').textContent = `output ${flat + 1} of ${total}`;
  renderWindow($('window-detail'), trace, win, flat, total, onDetailHover);
  renderGradient($('sharing-detail'), trace, gradient ? pick : null, gradient, onDetailHover);
}

function onDetailHover(target) {
  hoverTerm = target;
  lightOnly(); // the detail panels stay as they are: the pointer is inside them
}

// The hover highlights only: what the pointer is on, and the cells padding copies.
function lightOnly() {
  if (!current) return;
  registry.unmark(['hot', 'src']);
  const { win } = shownWindow();
  if (win) {
    for (const term of win.terms) {
      if (term.input.source) registry.mark(keyOf('x', term.input.source), 'src');
    }
  }
  if (!hoverTerm) return;
  if (hoverTerm.input) {
    registry.mark(keyOf('x', hoverTerm.input.index), 'hot');
    if (hoverTerm.input.source) registry.mark(keyOf('x', hoverTerm.input.source), 'src');
  }
  if (hoverTerm.weight) registry.mark(keyOf('w', hoverTerm.weight), 'hot');
  if (hoverTerm.output) {
    registry.mark(keyOf('y', hoverTerm.output), 'hot');
    registry.mark(keyOf('gy', hoverTerm.output), 'hot');
  }
  if (hoverTerm.cell) registry.mark(hoverTerm.cell, 'src');
}

function setCursor(flat) {
  if (!current) return;
  const total = current.trace.windows.length;
  state.cursor = ((flat % total) + total) % total;
  highlight();
  saveURL();
}

function setPick(pick) {
  const same = state.pick && pick && state.pick.kind === pick.kind && state.pick.index.join() === pick.index.join();
  state.pick = same ? null : pick;
  highlight();
  saveURL();
}

// ------------------------------------------------------------------ stepping
function stop() {
  if (playing) clearInterval(playing);
  playing = null;
  $('step-play').classList.remove('playing');
  $('step-play').setAttribute('aria-label', 'Play');
}

function play() {
  if (playing) { stop(); return; }
  const speed = SPEEDS[Number($('speed').value)];
  $('step-play').classList.add('playing');
  $('step-play').setAttribute('aria-label', 'Pause');
  playing = setInterval(() => setCursor(state.cursor + 1), 1000 / speed);
}

function showSpeed() {
  $('speed-label').textContent = `${SPEEDS[Number($('speed').value)]}/s`;
  if (playing) { stop(); play(); }
}

// ------------------------------------------------------------------ editing a value
function startEdit(cell) {
  const role = cell.dataset.role;
  if (!['x', 'w', 'gy'].includes(role) || cell.querySelector('input')) return;
  const index = cell.dataset.index.split(',').map(Number);
  if (role === 'x' && !cell.classList.contains('input')) return; // padding is not a value
  stop();
  const editor = document.createElement('input');
  editor.type = 'text';
  editor.inputMode = 'decimal';
  editor.className = 'cell-editor';
  editor.value = cell.dataset.value;
  editor.setAttribute('aria-label', `new value for ${role}[${index.join(', ')}]`);
  cell.replaceChildren(editor);
  editor.focus();
  editor.select();
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    const value = parseNumber(editor.value);
    if (keep && value !== null) setValue(role, index, value);
    else cell.textContent = fmt(Number(cell.dataset.value));
  };
  editor.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); finish(true); }
    if (event.key === 'Escape') { event.preventDefault(); finish(false); }
    event.stopPropagation();
  });
  editor.addEventListener('blur', () => finish(true));
}

function setValue(role, index, value) {
  if (role === 'x') state.x[flatIndex(index, inputShape(state))] = value;
  if (role === 'w') state.w[flatIndex(index, weightShape(state))] = value;
  if (role === 'gy') {
    const trace = current.trace;
    if (!state.g) {
      state.g = flatten(trace.backward.grad_output);
      state.gShape = trace.output_shape.slice();
    }
    state.g[flatIndex(index, state.gShape)] = value;
  }
  refresh(0);
}

// ------------------------------------------------------------------ pointer and keys
function cellFrom(event) {
  const cell = event.target.closest('.cell');
  return cell && cell.dataset.role ? cell : null;
}

function onGridClick(event) {
  const cell = cellFrom(event);
  if (!cell || !current) return;
  const role = cell.dataset.role;
  const index = cell.dataset.index.split(',').map(Number);
  const editing = document.body.dataset.click === 'edit';
  if (role === 'gy' || (editing && (role === 'x' || role === 'w'))) { startEdit(cell); return; }
  if (role === 'y') { stop(); setCursor(flatIndex(index, current.trace.output_shape)); return; }
  if (role === 'w' || role === 'gw') { setPick({ kind: 'weight', index }); return; }
  if (role === 'gb') { setPick({ kind: 'bias', index }); return; }
  if (role === 'gx') { setPick({ kind: 'input', index }); return; }
  if (role === 'x') {
    if (cell.classList.contains('input')) setPick({ kind: 'input', index });
    else if (cell.dataset.source) setPick({ kind: 'input', index: cell.dataset.source.split(',').map(Number) });
  }
}

function onGridDoubleClick(event) {
  const cell = cellFrom(event);
  if (cell) startEdit(cell);
}

function onGridOver(event) {
  const cell = cellFrom(event);
  if (!cell || !current) return;
  if (cell.dataset.role === 'y' && !playing) {
    // hovering an output moves the cursor there (and it stays when the pointer moves on to
    // the window's products below)
    const flat = flatIndex(cell.dataset.index.split(',').map(Number), current.trace.output_shape);
    if (state.cursor !== flat) setCursor(flat);
  } else if (cell.dataset.source) {
    hoverTerm = { cell: keyOf('x', cell.dataset.source.split(',').map(Number)) };
    lightOnly();
  }
}

function onGridOut(event) {
  const cell = cellFrom(event);
  if (!cell) return;
  if (cell.dataset.source && hoverTerm) { hoverTerm = null; lightOnly(); }
}

// ← → step, Home goes to the first output, space plays or pauses (not while typing)
function onKey(event) {
  const tag = (event.target.tagName || '').toLowerCase();
  if (['input', 'select', 'textarea'].includes(tag) || !current || (imageMode && imageMode.active)
      || (landscapeMode && landscapeMode.active)) return;
  if (tag === 'button' && (event.key === ' ' || event.key === 'Enter')) return; // the button's own
  const moves = { ArrowRight: 1, ArrowLeft: -1 };
  if (event.key in moves) { stop(); setCursor(state.cursor + moves[event.key]); }
  if (event.key === 'Home') { stop(); setCursor(0); }
  if (event.key === ' ') { event.preventDefault(); play(); }
}

async function copySnippet() {
  const text = $('snippet').textContent;
  const button = $('copy-code');
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch (e) {
    const range = document.createRange();
    range.selectNodeContents($('snippet'));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    button.textContent = document.execCommand && document.execCommand('copy') ? 'Copied' : 'Press Ctrl+C';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 1500);
}

// ------------------------------------------------------------------ modes
const MODES = ['layer', 'image', 'landscape'];

function setMode(mode) {
  for (const name of MODES) {
    $(`${name}-mode`).hidden = name !== mode;
    $(`tab-${name}`).setAttribute('aria-selected', String(name === mode));
  }
  if (mode !== 'image') imageMode.deactivate();
  if (mode !== 'landscape') landscapeMode.deactivate();
  if (mode === 'image') { stop(); imageMode.activate(); }
  else if (mode === 'landscape') { stop(); landscapeMode.activate(); }
  else if (!current) refresh(0);
  saveURL();
}

// ------------------------------------------------------------------ start
function start() {
  const params = new URLSearchParams(location.search);
  state = params.has('op') ? fromQuery(location.search) : defaultState();
  linkProblems = state.problems || [];
  delete state.problems;
  document.body.dataset.click = 'inspect';
  imageMode = new ImageMode({ postJSON, saveURL, params });
  landscapeMode = new LandscapeMode({ saveURL, params });
  buildAxisInputs();
  syncControls();
  showSpeed();
  $('settings').addEventListener('input', onControl);
  $('settings').addEventListener('change', onControl);
  $('settings').addEventListener('submit', (event) => event.preventDefault());
  $('presets').addEventListener('click', onPreset);
  for (const id of ['forward-grids', 'backward-grids']) {
    const el = $(id);
    el.addEventListener('click', onGridClick);
    el.addEventListener('dblclick', onGridDoubleClick);
    el.addEventListener('mouseover', onGridOver);
    el.addEventListener('mouseout', onGridOut);
  }
  $('step-first').addEventListener('click', () => { stop(); setCursor(0); });
  $('step-prev').addEventListener('click', () => { stop(); setCursor(state.cursor - 1); });
  $('step-next').addEventListener('click', () => { stop(); setCursor(state.cursor + 1); });
  $('step-play').addEventListener('click', play);
  $('speed').addEventListener('input', showSpeed);
  $('grad-reset').addEventListener('click', () => { state.g = null; state.gShape = null; refresh(0); });
  $('copy-code').addEventListener('click', copySnippet);
  document.addEventListener('keydown', onKey);
  for (const tab of document.querySelectorAll('[data-mode]')) {
    tab.addEventListener('click', () => setMode(tab.dataset.mode));
  }
  const narrow = window.matchMedia('(max-width: 900px)');
  const fitPanel = () => { $('settings-panel').open = !narrow.matches; };
  fitPanel();
  narrow.addEventListener('change', fitPanel);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (landscapeMode.active) landscapeMode.draw();
      else if (current) render(current);
    }, 120);
  });
  setMode(MODES.includes(params.get('mode')) ? params.get('mode') : 'layer');
}

// exposed for tests and the curious: the last answer, read-only
Object.defineProperty(window, 'convgradExplore', {
  value: Object.freeze({
    answer: () => current,
    imageAnswer: () => (imageMode ? imageMode.answer : null),
    landscapeAnswers: () => (landscapeMode ? landscapeMode.answers : []),
    state: () => structuredClone(state),
  }),
});

start();
