// Image mode: the bundled image (or the user's own) through a preset or custom kernel. The
// convolution and the gray levels of its output come from the API (convgrad.functional.conv2d);
// the page only decodes an upload to gray levels, as the input it sends.
import { element, fmt, parseNumber } from './grids.js';

const $ = (id) => document.getElementById(id);
// The API's bounds (schemas.IMAGE_MAX_*; tests/test_web_api.py checks they agree)
const MAX_SIDE = 128; // each side of an image
const MAX_STRIDE = 4;
const KERNEL_SIZES = [1, 3, 5, 7]; // odd, so 'same' pads evenly, up to IMAGE_MAX_KERNEL
const PADDINGS = ['same', 'valid', '0', '1', '2', '3']; // integers up to IMAGE_MAX_PADDING

function drawGray(canvas, pixels) {
  const height = pixels.length;
  const width = pixels[0].length;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  let k = 0;
  for (const row of pixels) {
    for (const v of row) {
      image.data[k] = v; image.data[k + 1] = v; image.data[k + 2] = v; image.data[k + 3] = 255;
      k += 4;
    }
  }
  context.putImageData(image, 0, 0);
}

// An uploaded picture as gray levels in [0, 1], at most MAX_SIDE on each side: drawn onto a
// canvas (which downscales it), then luma = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601),
// transparent parts over white.
async function decodeUpload(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  const data = context.getImageData(0, 0, width, height).data;
  const pixels = [];
  for (let r = 0; r < height; r++) {
    const row = [];
    for (let c = 0; c < width; c++) {
      const k = 4 * (r * width + c);
      const luma = 0.299 * data[k] + 0.587 * data[k + 1] + 0.114 * data[k + 2];
      row.push(Math.round((luma / 255) * 10000) / 10000);
    }
    pixels.push(row);
  }
  return { pixels, width, height, original: [bitmap.width, bitmap.height] };
}

function identity(size) {
  return Array.from({ length: size }, (_, r) => Array.from({ length: size }, (_, c) => (r === (size - 1) / 2 && c === (size - 1) / 2 ? 1 : 0)));
}

export class ImageMode {
  constructor({ postJSON, saveURL, params }) {
    this.postJSON = postJSON;
    this.saveURL = saveURL;
    this.active = false;
    this.loaded = false;
    this.presets = [];
    this.image = null; // {pixels, width, height, label}
    this.answer = null;
    this.seq = 0;
    const q = params;
    this.preset = q.get('preset') || 'sobel_x';
    this.kernel = null;
    if (q.get('kernel')) {
      const rows = q.get('kernel').split(';').map((row) => row.split(',').map(Number));
      const n = rows.length;
      if (KERNEL_SIZES.includes(n) && rows.every((r) => r.length === n && r.every(Number.isFinite))) {
        this.kernel = rows;
        this.preset = 'custom';
      }
    }
    // s, p and pm are image mode's own only in an image-mode link: a layer-mode link uses
    // the same keys for the layer's stride and padding, which must not leak in here
    const own = (key) => (q.get('mode') === 'image' ? q.get(key) : null);
    const stride = Number(own('s'));
    this.stride = Number.isInteger(stride) && stride >= 1 && stride <= MAX_STRIDE ? stride : 1;
    const padding = own('p');
    this.padding = PADDINGS.includes(padding) ? padding : 'same';
    const mode = own('pm');
    this.paddingMode = ['zeros', 'reflect', 'replicate', 'circular'].includes(mode) ? mode : 'reflect';
    const mapping = q.get('map');
    this.mapping = ['auto', 'clip', 'minmax', 'signed'].includes(mapping) ? mapping : 'auto';
    this.bind();
  }

  bind() {
    $('image-sample').addEventListener('click', () => this.loadSample());
    $('image-upload').addEventListener('change', (event) => this.onUpload(event));
    $('image-presets').addEventListener('click', (event) => {
      const name = event.target.dataset && event.target.dataset.preset;
      if (name) this.choosePreset(name);
    });
    $('image-kernel-size').addEventListener('change', (event) => {
      const size = Number(event.target.value);
      if (!this.kernel || this.kernel.length !== size) this.kernel = identity(size);
      this.preset = 'custom';
      this.drawKernel();
      this.run();
    });
    $('image-stride').addEventListener('input', (event) => {
      const value = Number(event.target.value);
      if (!Number.isInteger(value) || value < 1 || value > MAX_STRIDE) return;
      this.stride = value;
      this.run();
    });
    for (const [id, field] of [['image-padding', 'padding'], ['image-padding-mode', 'paddingMode'], ['image-mapping', 'mapping']]) {
      $(id).addEventListener('change', (event) => { this[field] = event.target.value; this.run(); });
    }
    $('image-kernel').addEventListener('click', (event) => this.editKernel(event));
    const out = $('image-out');
    out.addEventListener('mousemove', (event) => this.showPixel(event));
    out.addEventListener('mouseleave', () => { $('image-pixel').textContent = 'Hover the output for a value.'; });
  }

  query() {
    const q = new URLSearchParams();
    q.set('mode', 'image');
    if (this.preset === 'custom' && this.kernel) q.set('kernel', this.kernel.map((r) => r.join(',')).join(';'));
    else q.set('preset', this.preset);
    q.set('s', this.stride);
    q.set('p', this.padding);
    q.set('pm', this.paddingMode);
    q.set('map', this.mapping);
    return q.toString();
  }

  async activate() {
    this.active = true;
    $('image-stride').value = this.stride;
    $('image-padding').value = this.padding;
    $('image-padding-mode').value = this.paddingMode;
    $('image-mapping').value = this.mapping;
    if (!this.loaded) {
      try {
        const presets = await fetch('/api/image/presets').then((r) => r.json());
        this.presets = presets.presets;
        this.loaded = true;
        const holder = $('image-presets');
        holder.replaceChildren();
        for (const preset of this.presets) {
          const button = element('button', '', preset.label);
          button.type = 'button';
          button.dataset.preset = preset.name;
          button.title = preset.note;
          holder.append(button);
        }
        if (this.preset !== 'custom') {
          const chosen = this.presets.find((p) => p.name === this.preset) || this.presets[0];
          this.preset = chosen.name;
          this.kernel = chosen.kernel;
        }
        await this.loadSample(false);
      } catch (error) {
        this.showMessage(`Cannot load image mode: ${error.message}`);
        return;
      }
    }
    this.drawKernel();
    this.run();
  }

  deactivate() { this.active = false; }

  async loadSample(run = true) {
    const sample = await fetch('/api/image/sample').then((r) => r.json());
    this.image = { pixels: sample.pixels, width: sample.width, height: sample.height,
      label: `The bundled image (${sample.width}×${sample.height}, drawn by convgrad.web.image), ${sample.scale}.` };
    $('image-source').textContent = this.image.label;
    if (run) this.run();
  }

  async onUpload(event) {
    const file = event.target.files && event.target.files[0];
    if (!file) return;
    try {
      const decoded = await decodeUpload(file);
      const [w0, h0] = decoded.original;
      const scaled = w0 !== decoded.width || h0 !== decoded.height;
      this.image = { ...decoded,
        label: `Your image: ${decoded.width}×${decoded.height} gray levels${scaled ? ` (downscaled from ${w0}×${h0} to fit ${MAX_SIDE}×${MAX_SIDE})` : ''}; 0 = black, 1 = white. It stays in this page (not in the link).` };
      $('image-source').textContent = this.image.label;
      this.run();
    } catch (error) {
      this.showMessage(`That file could not be read as an image (${error.message}).`);
    }
  }

  choosePreset(name) {
    const preset = this.presets.find((p) => p.name === name);
    if (!preset) return;
    this.preset = name;
    this.kernel = preset.kernel.map((row) => row.slice());
    this.drawKernel();
    this.run();
  }

  drawKernel() {
    const holder = $('image-kernel');
    holder.replaceChildren();
    if (!this.kernel) return;
    const n = this.kernel.length;
    const grid = element('div', 'grid kernel-grid');
    grid.style.gridTemplateColumns = `repeat(${this.kernel[0].length}, var(--cell))`;
    this.kernel.forEach((row, r) => row.forEach((value, c) => {
      const cell = element('div', 'cell weight', fmt(value));
      if (fmt(value).length > 4) cell.classList.add('long');
      cell.dataset.r = r;
      cell.dataset.c = c;
      cell.title = `kernel[${r}, ${c}] = ${value}`;
      grid.append(cell);
    }));
    holder.append(grid);
    $('image-kernel-size').value = String(n);
    for (const button of $('image-presets').querySelectorAll('button')) {
      button.classList.toggle('active', button.dataset.preset === this.preset);
    }
    const preset = this.presets.find((p) => p.name === this.preset);
    $('image-kernel-name').textContent = preset ? preset.label : 'custom';
    $('image-kernel-note').textContent = preset ? preset.note : 'Your own kernel.';
  }

  editKernel(event) {
    const cell = event.target.closest('.cell');
    if (!cell || cell.querySelector('input')) return;
    const r = Number(cell.dataset.r);
    const c = Number(cell.dataset.c);
    const editor = document.createElement('input');
    editor.type = 'text';
    editor.className = 'cell-editor';
    editor.value = String(this.kernel[r][c]);
    cell.replaceChildren(editor);
    editor.focus();
    editor.select();
    let done = false;
    const finish = (keep) => {
      if (done) return;
      done = true;
      const value = parseNumber(editor.value);
      if (keep && value !== null) {
        this.kernel = this.kernel.map((row) => row.slice());
        this.kernel[r][c] = value;
        this.preset = 'custom';
        this.run();
      }
      this.drawKernel();
    };
    editor.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
      e.stopPropagation();
    });
    editor.addEventListener('blur', () => finish(true));
  }

  showMessage(text) {
    const box = $('image-message');
    box.hidden = !text;
    if (text) box.replaceChildren(element('strong', '', 'Not possible: '), element('span', 'detail', text));
    $('image-view').classList.toggle('stale', Boolean(text) && Boolean(this.answer));
  }

  async run() {
    if (!this.active || !this.image || !this.kernel) return;
    this.saveURL();
    const seq = ++this.seq;
    const padding = ['same', 'valid'].includes(this.padding) ? this.padding : Number(this.padding);
    try {
      const answer = await this.postJSON('/api/image', {
        image: this.image.pixels, kernel: this.kernel, stride: this.stride, padding,
        padding_mode: this.paddingMode, mapping: this.mapping,
      });
      if (seq !== this.seq) return;
      this.answer = answer;
      this.showMessage(null);
      this.draw(answer);
    } catch (error) {
      if (seq === this.seq) this.showMessage(error.message);
    }
  }

  draw(answer) {
    drawGray($('image-in'), answer.input_display);
    drawGray($('image-out'), answer.display.pixels);
    $('image-in-shape').textContent = `${this.image.height} × ${this.image.width}`;
    $('image-out-shape').textContent = answer.output_shape.join(' × ');
    $('image-mapping-text').replaceChildren(element('strong', '', 'Gray levels: '),
      element('span', '', `${answer.display.text}. ${answer.summary}`));
    $('image-engine').className = 'engine good';
    $('image-engine').textContent = `computed by ${answer.engine.function} in ${fmt(answer.engine.milliseconds)} ms`;
    const axes = $('image-axes');
    axes.replaceChildren();
    for (const axis of answer.axes) {
      const line = element('div', 'axis-line');
      line.append(element('span', 'axis-name', `${axis.axis}_out`), element('span', 'eq', ' = '),
        element('code', '', axis.substituted));
      axes.append(line);
    }
  }

  showPixel(event) {
    if (!this.answer) return;
    const canvas = event.currentTarget;
    const rect = canvas.getBoundingClientRect();
    const [rows, cols] = this.answer.output_shape;
    const r = Math.min(rows - 1, Math.floor(((event.clientY - rect.top) / rect.height) * rows));
    const c = Math.min(cols - 1, Math.floor(((event.clientX - rect.left) / rect.width) * cols));
    if (r < 0 || c < 0) return;
    $('image-pixel').textContent = `y[${r}, ${c}] = ${fmt(this.answer.output[r][c])} → gray ${this.answer.display.pixels[r][c]}`;
  }
}
