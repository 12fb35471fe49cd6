// The explorer's state: the settings and values the user chose, their shapes, the URL that
// reproduces them, and the API request they become. Nothing here computes a result: output
// shapes and values come back from the API.

export const FAMILIES = {
  conv: { op: (d) => `conv${d}d`, weights: true },
  transpose: { op: (d) => `conv_transpose${d}d`, weights: true },
  max: { op: (d) => `max_pool${d}d`, weights: false },
  avg: { op: (d) => `avg_pool${d}d`, weights: false },
};

// The API's bounds (schemas.MAX_*; tests/test_web_api.py checks they agree)
export const LIMITS = {
  channels: 4, length1d: 48, side2d: 16, kernel: 7, stride: 6, padding: 6, dilation: 4,
  outputPadding: 5,
};

// The explorer's size bound (schemas.MAX_TRACE_PRODUCTS, and convgrad.explain's MAX_ELEMENTS;
// tests/test_web_api.py checks they agree): a trace lists every product, so the form offers only
// settings whose trace stays within it (see boundedMax).
export const TRACE_BOUND = { products: 4096, elements: 4096 };

const NOTES_X = [[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 0, 0, 0]];
const NOTES_X2 = [[0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 2, 0]];
const EDGE_W = [[1, 0, -1], [1, 0, -1], [1, 0, -1]];

export function opName(state) {
  return FAMILIES[state.family].op(state.dims);
}

export function hasWeights(state) {
  return FAMILIES[state.family].weights;
}

function axes(dims, value) {
  return Array.from({ length: dims }, () => value);
}

// The starting view: the notes' first 2D example (a 4×4 input, a 2×2 kernel of ones).
export function defaultState(dims = 2, family = 'conv') {
  const state = {
    family, dims,
    size: dims === 2 ? [4, 4] : [8],
    cin: 1, cout: 1, groups: 1, bias: false,
    kernel: dims === 2 ? [2, 2] : [3],
    stride: axes(dims, 1), strideAuto: true,
    paddingKind: 'int', padding: axes(dims, 0), paddingMode: 'zeros',
    dilation: axes(dims, 1), outputPadding: axes(dims, 0),
    ceilMode: false, countIncludePad: true,
    x: null, w: null, b: null, g: null,
    cursor: 0, pick: null,
  };
  applyPreset(state, 'notes1');
  return state;
}

// ------------------------------------------------------------------ shapes
export function inputShape(s) { return [s.cin, ...s.size]; }

export function weightShape(s) {
  // groups that do not divide the channels: the API names the constraint; the page still
  // needs some weight to send, so it keeps at least one channel per group.
  if (s.family === 'conv') return [s.cout, Math.max(1, Math.floor(s.cin / s.groups)), ...s.kernel];
  if (s.family === 'transpose') return [s.cin, Math.max(1, Math.floor(s.cout / s.groups)), ...s.kernel];
  return null;
}

export function count(shape) { return shape.reduce((a, b) => a * b, 1); }

export function unflatten(flat, shape) {
  if (shape.length === 1) return flat.slice(0, shape[0]);
  const step = count(shape.slice(1));
  return Array.from({ length: shape[0] }, (_, i) => unflatten(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}

export function flatten(nested) {
  return Array.isArray(nested) ? nested.flatMap(flatten) : [nested];
}

function strides(shape) {
  const out = new Array(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) out[k] = out[k + 1] * shape[k + 1];
  return out;
}

export function flatIndex(index, shape) {
  const st = strides(shape);
  return index.reduce((acc, i, k) => acc + i * st[k], 0);
}

export function multiIndex(flat, shape) {
  const st = strides(shape);
  return shape.map((_, k) => Math.floor(flat / st[k]) % shape[k]);
}

// A filler for cells a resize adds: small integers in a fixed pattern (not all zeros, so a
// new row or channel changes the output visibly, and the same every time).
function filler(role, index) {
  let h = role === 'x' ? 0x2545f491 : 0x6c8e9cf5;
  for (const i of index) {
    h = Math.imul(h ^ (i + 0x9e37), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  const span = role === 'x' ? 4 : 3;
  const low = role === 'x' ? 0 : -1;
  return low + ((h >>> 0) % span);
}

// Keep the values whose index still exists; fill the rest.
export function resize(values, oldShape, newShape, role) {
  const out = new Array(count(newShape));
  if (values && oldShape && values.length !== count(oldShape)) values = null;
  for (let f = 0; f < out.length; f++) {
    const idx = multiIndex(f, newShape);
    const fits = values && oldShape && oldShape.length === newShape.length &&
      idx.every((i, k) => i < oldShape[k]);
    out[f] = fits ? values[flatIndex(idx, oldShape)] : filler(role, idx);
  }
  return out;
}

// The output's channels: C_out for a convolution (transposed or not), C_in for pooling.
function outputChannels(s) {
  return hasWeights(s) ? s.cout : s.cin;
}

// Make every array match the settings (after a control changed).
export function conform(s, previous) {
  const xs = inputShape(s);
  s.x = resize(s.x, previous ? inputShape(previous) : xs, xs, 'x');
  const ws = weightShape(s);
  if (ws) s.w = resize(s.w, previous ? weightShape(previous) : ws, ws, 'w');
  if (s.bias) {
    const b = s.b || [];
    s.b = Array.from({ length: outputChannels(s) }, (_, i) => (i < b.length ? b[i] : 0));
  }
}

// ------------------------------------------------------------------ the size bound
// How many products and elements the trace of these settings lists, as convgrad.explain
// counts them (arguments.check_size); null when an output size is below 1 (then the API says
// which constraint fails). These are PyTorch's output-size formulas, used here only to keep
// the form within the bound: every number drawn still comes from the API.
function outputSizes(s) {
  const dims = s.dims;
  const sizes = [];
  for (let k = 0; k < dims; k++) {
    const L = s.size[k], kern = s.kernel[k];
    let out;
    if (s.family === 'conv') {
      const d = s.dilation[k], st = s.stride[k];
      const pads = s.paddingKind === 'same' ? d * (kern - 1) : s.paddingKind === 'valid' ? 0 : 2 * s.padding[k];
      out = s.paddingKind === 'same' ? L : Math.floor((L + pads - d * (kern - 1) - 1) / st) + 1;
    } else if (s.family === 'transpose') {
      out = (L - 1) * s.stride[k] - 2 * s.padding[k] + s.dilation[k] * (kern - 1)
        + s.outputPadding[k] + 1;
    } else {
      const st = s.strideAuto ? kern : s.stride[k], p = s.padding[k];
      const d = s.family === 'max' ? s.dilation[k] : 1;
      const span = L + 2 * p - d * (kern - 1) - 1;
      out = (s.ceilMode ? Math.ceil(span / st) : Math.floor(span / st)) + 1;
      if (s.ceilMode && (out - 1) * st >= L + p) out -= 1;
    }
    sizes.push(out);
  }
  return sizes;
}

export function traceSize(s) {
  const out = outputSizes(s);
  if (out.some((n) => n < 1)) return null;
  const kernel = count(s.kernel), inputs = s.cin * count(s.size);
  let products, outputs;
  if (s.family === 'conv') {
    outputs = s.cout * count(out);
    products = outputs * weightShape(s)[1] * kernel;
  } else if (s.family === 'transpose') {
    const perGroup = weightShape(s)[1];
    outputs = perGroup * s.groups * count(out);
    products = inputs * perGroup * kernel;
  } else {
    outputs = s.cin * count(out);
    products = outputs * kernel;
  }
  return { products, elements: inputs + outputs };
}

export function withinBound(s) {
  const size = traceSize(s);
  return size === null || (size.products <= TRACE_BOUND.products && size.elements <= TRACE_BOUND.elements);
}

// The largest value of a setting (axis ``axis`` of a per-axis one) from ``low`` to ``high``
// whose trace stays within the bound, the other settings as they are: the form offers no more.
export function boundedMax(s, field, axis, low, high) {
  for (let value = high; value > low; value--) {
    const trial = { ...s, [field]: axis === null ? value : s[field].map((v, k) => (k === axis ? value : v)) };
    if (withinBound(trial)) return value;
  }
  return low;
}

// ------------------------------------------------------------------ value presets
export function applyPreset(s, name) {
  s.g = null;
  const weights = hasWeights(s);
  if (name === 'notes1' || name === 'notes1d' || name === 'notes2') {
    const edge = name === 'notes2';
    s.cin = 1;
    if (s.dims === 2) {
      s.size = [4, 4];
      s.x = (edge ? NOTES_X2 : NOTES_X).flat();
      s.kernel = weights && edge ? [3, 3] : [2, 2];
      s.w = weights ? (edge ? EDGE_W.flat() : [1, 1, 1, 1]) : null;
    } else {
      s.size = [8];
      s.x = edge ? [0, 0, 0, 1, 1, 1, 0, 0] : [0, 1, 2, 3, 3, 2, 1, 0];
      s.kernel = weights ? (edge ? [2] : [3]) : [2];
      s.w = weights ? (edge ? [-1, 1] : [1, 0, -1]) : null;
    }
    if (weights) { s.cout = 1; s.groups = 1; }
    s.b = s.bias ? [0] : null;
  } else if (name === 'random') {
    const r = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
    s.x = s.x.map(() => r(0, 4));
    if (s.w) s.w = s.w.map(() => r(-2, 2));
    if (s.b) s.b = s.b.map(() => r(-1, 1));
  } else if (name === 'ones') {
    s.x = s.x.map(() => 1);
    if (s.w) s.w = s.w.map(() => 1);
    if (s.b) s.b = s.b.map(() => 0);
  }
  conform(s, null);
}

// ------------------------------------------------------------------ the API request
export function requestBody(s) {
  const dims = s.dims;
  const input = unflatten(s.x, inputShape(s));
  const body = { input };
  const axisList = (v) => v.slice(0, dims);
  if (s.family === 'conv' || s.family === 'transpose') {
    body.weight = unflatten(s.w, weightShape(s));
    if (s.bias && s.b) body.bias = s.b.slice();
    body.stride = axisList(s.stride);
    body.dilation = axisList(s.dilation);
    body.groups = s.groups;
    if (s.family === 'conv') {
      body.padding = s.paddingKind === 'int' ? axisList(s.padding) : s.paddingKind;
      body.padding_mode = s.paddingMode;
    } else {
      body.padding = axisList(s.padding);
      body.output_padding = axisList(s.outputPadding);
    }
  } else {
    body.kernel_size = axisList(s.kernel);
    body.stride = s.strideAuto ? null : axisList(s.stride);
    body.padding = axisList(s.padding);
    body.ceil_mode = s.ceilMode;
    if (s.family === 'max') body.dilation = axisList(s.dilation);
    else body.count_include_pad = s.countIncludePad;
  }
  if (s.g && s.gShape) body.grad_output = unflatten(s.g, s.gShape);
  return body;
}

// ------------------------------------------------------------------ the URL
const NUMBER = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

function encodeValues(values) {
  return values.map((v) => String(v)).join(',');
}

function decodeValues(text, length) {
  if (typeof text !== 'string') return null;
  const parts = text.split(',');
  if (parts.length !== length || !parts.every((p) => NUMBER.test(p))) return null;
  return parts.map(Number);
}

function decodeAxes(text, dims, low, high) {
  if (typeof text !== 'string') return null;
  const parts = text.split('x').map(Number);
  if (parts.length === 1) parts.push(parts[0]);
  const out = parts.slice(0, dims);
  return out.every((v) => Number.isInteger(v) && v >= low && v <= high) ? out : null;
}

function decodeInt(text, low, high) {
  const v = Number(text);
  return text !== null && Number.isInteger(v) && v >= low && v <= high ? v : null;
}

// A setting of a link: its value when the link's text is one, else the default and a problem
// (the field it belongs to and why) for the page to show and mark.
function fromLink(q, key, field, decode, fallback, what, problems,
  shown = Array.isArray(fallback) ? fallback.join('×') : String(fallback)) {
  const text = q.get(key);
  if (text === null) return fallback;
  const value = decode(text);
  if (value !== null) return value;
  problems.push({ field, message: `the link's ${key}=${text} is not ${what}; ${shown} is shown instead` });
  return fallback;
}

// Values are written into the URL while it stays a reasonable length.
const MAX_URL_VALUES = 1200;

export function toQuery(s) {
  const q = new URLSearchParams();
  q.set('op', opName(s));
  q.set('in', s.size.join('x'));
  q.set('c', s.cin);
  if (hasWeights(s)) { q.set('cout', s.cout); q.set('g', s.groups); q.set('bias', s.bias ? 1 : 0); }
  q.set('k', s.kernel.join('x'));
  if (s.family === 'max' || s.family === 'avg') q.set('s', s.strideAuto ? 'auto' : s.stride.join('x'));
  else q.set('s', s.stride.join('x'));
  q.set('p', s.family === 'conv' && s.paddingKind !== 'int' ? s.paddingKind : s.padding.join('x'));
  if (s.family === 'conv') q.set('pm', s.paddingMode);
  if (s.family !== 'avg') q.set('d', s.dilation.join('x'));
  if (s.family === 'transpose') q.set('op_', s.outputPadding.join('x'));
  if (s.family === 'max' || s.family === 'avg') q.set('ceil', s.ceilMode ? 1 : 0);
  if (s.family === 'avg') q.set('cip', s.countIncludePad ? 1 : 0);
  const total = s.x.length + (s.w ? s.w.length : 0) + (s.g ? s.g.length : 0);
  if (total <= MAX_URL_VALUES) {
    q.set('x', encodeValues(s.x));
    if (s.w) q.set('w', encodeValues(s.w));
    if (s.g && s.gShape) { q.set('gy', encodeValues(s.g)); q.set('gs', s.gShape.join('x')); }
  }
  if (s.bias && s.b) q.set('b', encodeValues(s.b));
  q.set('at', s.cursor);
  if (s.pick) q.set('pick', `${s.pick.kind}:${s.pick.index.join('.')}`);
  return q.toString();
}

// Rebuild a state from a query string; whatever is missing or malformed keeps its default.
export function fromQuery(text) {
  const q = new URLSearchParams(text);
  const op = q.get('op') || 'conv2d';
  const match = /^(conv|conv_transpose|max_pool|avg_pool)([12])d$/.exec(op);
  if (!match) return defaultState();
  const family = { conv: 'conv', conv_transpose: 'transpose', max_pool: 'max', avg_pool: 'avg' }[match[1]];
  const dims = Number(match[2]);
  const s = defaultState(dims, family);
  const problems = [];
  s.problems = problems;
  const side = dims === 1 ? LIMITS.length1d : LIMITS.side2d;
  const axesOf = (low, high) => (text) => decodeAxes(text, dims, low, high);
  const range = (low, high) => `an integer from ${low} to ${high}${dims === 2 ? ' (or two, as HxW)' : ''}`;
  const intIn = (low, high) => (text) => decodeInt(text, low, high);
  s.size = fromLink(q, 'in', 'size', axesOf(1, side), s.size, range(1, side), problems);
  s.cin = fromLink(q, 'c', 'cin', intIn(1, LIMITS.channels), s.cin, `from 1 to ${LIMITS.channels}`, problems);
  s.cout = fromLink(q, 'cout', 'cout', intIn(1, LIMITS.channels), s.cout, `from 1 to ${LIMITS.channels}`, problems);
  s.groups = fromLink(q, 'g', 'groups', intIn(1, LIMITS.channels), s.groups, `from 1 to ${LIMITS.channels}`, problems);
  s.bias = q.get('bias') === '1';
  s.kernel = fromLink(q, 'k', 'kernel', axesOf(1, LIMITS.kernel), s.kernel, range(1, LIMITS.kernel), problems);
  const stride = q.get('s');
  if (stride === 'auto') s.strideAuto = true;
  else if (stride) {
    const v = fromLink(q, 's', 'stride', axesOf(1, LIMITS.stride), null, range(1, LIMITS.stride), problems,
      !hasWeights(s) && s.strideAuto ? 'the kernel size' : s.stride.join('×'));
    if (v) { s.stride = v; s.strideAuto = false; }
  }
  const p = q.get('p');
  if (p === 'same' || p === 'valid') s.paddingKind = p;
  else s.padding = fromLink(q, 'p', 'padding', axesOf(0, LIMITS.padding), s.padding, range(0, LIMITS.padding), problems);
  const pm = q.get('pm');
  if (['zeros', 'reflect', 'replicate', 'circular'].includes(pm)) s.paddingMode = pm;
  else if (pm !== null) problems.push({ field: 'paddingMode', message: `the link's pm=${pm} is not a padding mode; zeros is shown instead` });
  s.dilation = fromLink(q, 'd', 'dilation', axesOf(1, LIMITS.dilation), s.dilation, range(1, LIMITS.dilation), problems);
  s.outputPadding = fromLink(q, 'op_', 'outputPadding', axesOf(0, LIMITS.outputPadding), s.outputPadding, range(0, LIMITS.outputPadding), problems);
  s.ceilMode = q.get('ceil') === '1';
  if (q.has('cip')) s.countIncludePad = q.get('cip') === '1';
  s.x = null; s.w = null; s.b = null;
  conform(s, null);
  const x = decodeValues(q.get('x'), s.x.length);
  if (x) s.x = x;
  const ws = weightShape(s);
  if (ws) {
    const w = decodeValues(q.get('w'), s.w.length);
    if (w) s.w = w;
  }
  if (s.bias) {
    const b = decodeValues(q.get('b'), outputChannels(s));
    if (b) s.b = b;
  }
  const gs = q.get('gs');
  if (gs) {
    const shape = gs.split('x').map(Number);
    if (shape.length === dims + 1 && shape.every((v) => Number.isInteger(v) && v >= 1 && v <= 512)) {
      const g = decodeValues(q.get('gy'), count(shape));
      if (g) { s.g = g; s.gShape = shape; }
    }
  }
  s.cursor = decodeInt(q.get('at'), 0, 1e6) || 0;
  const pick = q.get('pick');
  if (pick && /^(weight|input|bias):-?\d+(\.-?\d+)*$/.test(pick)) {
    const [kind, index] = pick.split(':');
    s.pick = { kind, index: index.split('.').map(Number) };
  }
  return s;
}
