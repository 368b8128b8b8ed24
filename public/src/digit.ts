/**
 * Draw a digit (or any single-channel image): a canvas drawn at 10× size, normalised like MNIST
 * (drawing scaled into a box of 20/28 of the image, centred by its centre of mass) at the dataset's
 * raw size, preprocessed with the training code itself, then run through the published ONNX model
 * in the browser (browser-model.ts) at every shared weight. Shown: the ensemble's probabilities
 * (mean of the per-weight softmaxes) and its vote, combined exactly as the server does, with the
 * dataset's class names. MNIST keeps its own path (28×28 → 16×16 with deskew, src/data/preprocess.ts)
 * exactly as before datasets existed; another image dataset uses src/data/image.ts at its W×H.
 */
import { describeAnswer } from '../../src/api/model-answer';
import { preprocessGrayImage } from '../../src/data/image';
import { preprocessImage } from '../../src/data/preprocess';
import { HttpError, type ModelVersion, request } from './api';
import { BrowserModel } from './browser-model';
import type { DrawGeometry } from './dataset-facts';
import { el, pct, replace } from './dom';

const SIZE = 280;
const MNIST = 28;
/** MNIST's digits sit in a 20×20 box of the 28×28 image. */
const BOX_FRACTION = 20 / 28;

/** MNIST: what the panel showed before datasets existed. */
const MNIST_GEOMETRY: DrawGeometry = {
  rawWidth: MNIST,
  rawHeight: MNIST,
  width: 16,
  height: 16,
  deskew: true,
  mnist: true,
  classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
};

/** 784 values in [0, 1], MNIST-style (20×20 box, centre of mass at the centre), or null if blank. */
export function canvasToMnist(source: HTMLCanvasElement): Float32Array | null {
  return canvasToImage(source, MNIST, MNIST);
}

/**
 * width × height values in [0, 1], MNIST-style (the drawing scaled into a box of 20/28 of the
 * smaller side, centre of mass at the centre), or null if blank. At 28×28 this is MNIST's exactly.
 */
export function canvasToImage(source: HTMLCanvasElement, width: number, height: number): Float32Array | null {
  const boxSide = Math.max(1, Math.round(Math.min(width, height) * BOX_FRACTION));
  const ctx = source.getContext('2d', { willReadFrequently: true })!;
  const { data } = ctx.getImageData(0, 0, source.width, source.height);
  let x0 = source.width;
  let y0 = source.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < source.height; y++) {
    for (let x = 0; x < source.width; x++) {
      if (data[(y * source.width + x) * 4] > 25) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const scale = boxSide / Math.max(w, h);
  const sw = Math.max(1, Math.round(w * scale));
  const sh = Math.max(1, Math.round(h * scale));
  const box = document.createElement('canvas');
  box.width = boxSide;
  box.height = boxSide;
  const bctx = box.getContext('2d', { willReadFrequently: true })!;
  bctx.imageSmoothingEnabled = true;
  bctx.imageSmoothingQuality = 'high';
  bctx.drawImage(source, x0, y0, w, h, 0, 0, sw, sh);
  const small = bctx.getImageData(0, 0, sw, sh).data;
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const v = small[(y * sw + x) * 4];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const ox = Math.round(width / 2 - (mass ? mx / mass : sw / 2));
  const oy = Math.round(height / 2 - (mass ? my / mass : sh / 2));
  const out = new Float32Array(width * height);
  for (let y = 0; y < sh; y++) {
    for (let x = 0; x < sw; x++) {
      const tx = x + ox;
      const ty = y + oy;
      if (tx < 0 || ty < 0 || tx >= width || ty >= height) continue;
      out[ty * width + tx] = small[(y * sw + x) * 4] / 255;
    }
  }
  return out;
}

export interface DigitPanelOptions {
  model: ModelVersion;
  /** Where `POST …/predict` lives, when this viewer may ask the server too. */
  predictUrl: string | null;
  /** The run's image dataset (dataset-facts.ts `drawGeometry`); absent: MNIST. */
  geometry?: DrawGeometry;
}

/** The drawing as the network's input: MNIST's own path, or the dataset's at its W×H. */
function preprocessDrawing(raw: Float32Array, g: DrawGeometry): Float32Array {
  if (g.mnist) return preprocessImage(raw);
  // The dataset's shards were built from bytes: the drawing is quantised to bytes the same way.
  const bytes = Uint8Array.from(raw, (v) => Math.max(0, Math.min(255, Math.round(v * 255))));
  return preprocessGrayImage(bytes, g.rawWidth, g.rawHeight, g);
}

/** Which model a prediction of `model` came from, in the API's words (src/api/model-answer.ts). */
function answeredHere(model: ModelVersion): string {
  const trained = model.variant === 'trained' || model.weights.length === 0;
  return describeAnswer({
    version: model.version,
    variant: trained ? 'trained' : 'shared',
    trainedFrom: model.trainedFrom ?? null,
    weights: trained ? 'trained' : 'ensemble',
  });
}

/** How a version is named in the picker: "v2 · trained weights, from v1 · 98.6 %". */
function versionLabel(m: ModelVersion): string {
  return `${answeredHere(m).replace(/^(v\d+) \((.*)\)$/, '$1 · $2')} · ${pct(m.ensembleTestAccuracy)}`;
}

/**
 * The draw panel with a picker of every published version (trained ones too), the newest first
 * (the one the server answers with when no version is named); picking one runs it here, and
 * "Ask the server too" asks the server for the same version.
 */
export function mountDigitPicker(
  root: HTMLElement,
  options: { models: ModelVersion[]; predictUrl: string | null; geometry?: DigitPanelOptions['geometry'] },
): void {
  const ordered = [...options.models].sort((a, b) => b.version - a.version);
  const select = el(
    'select',
    { id: 'digit-version', 'aria-label': 'model version' },
    ...ordered.map((m) => el('option', { value: String(m.version) }, versionLabel(m))),
  );
  const panel = el('div', { id: 'digit-panel' });
  const show = () => {
    const model = ordered.find((m) => String(m.version) === select.value) ?? ordered[0];
    mountDigitPanel(panel, { model, predictUrl: options.predictUrl, geometry: options.geometry });
  };
  select.addEventListener('change', show);
  replace(
    root,
    el('label', { class: 'row wrap small', for: 'digit-version' }, 'Model version ', select),
    panel,
  );
  show();
}

export function mountDigitPanel(root: HTMLElement, options: DigitPanelOptions): void {
  const { model } = options;
  const g = options.geometry ?? MNIST_GEOMETRY;
  const classes = g.classes;
  const what = g.mnist ? 'a digit' : 'an image';
  /** A trained version has one weight per connection baked in: one run, no shared weight input. */
  const trained = model.variant === 'trained' || model.weights.length === 0;
  const canvas = el('canvas', { width: SIZE, height: SIZE, class: 'draw', 'aria-label': 'drawing area' });
  const preview = el('canvas', {
    width: g.width,
    height: g.height,
    class: 'preview',
    id: 'digit-preview',
    title: `what the network sees (${g.width}×${g.height})`,
  });
  // Drawn 64 px wide whatever its size, in the image's proportions.
  if (g.width !== g.height) preview.style.height = `${Math.round((64 * g.height) / g.width)}px`;
  const clear = el('button', { type: 'button', class: 'secondary', id: 'digit-clear' }, 'Clear');
  const state = el('p', { class: 'muted small', id: 'digit-state' }, 'Loading the model…');
  const bars = el('ol', { class: g.mnist ? 'probs' : 'probs named', id: 'digit-probs', start: 0 });
  const vote = el('p', { class: 'vote', id: 'digit-vote' });
  const server = el('p', { class: 'small muted', id: 'digit-server' });
  const serverButton = options.predictUrl
    ? el(
        'button',
        { type: 'button', class: 'secondary', disabled: true, 'data-ask-server': '' },
        'Ask the server too',
      )
    : null;
  replace(
    root,
    el(
      'div',
      { class: 'digit-grid' },
      el(
        'div',
        {},
        canvas,
        el(
          'div',
          { class: 'row wrap' },
          clear,
          serverButton,
          el('span', { class: 'small muted' }, 'Draw with the mouse or a finger.'),
        ),
      ),
      el(
        'div',
        {},
        state,
        vote,
        bars,
        el(
          'div',
          { class: 'row' },
          preview,
          el('span', { class: 'small muted' }, `${g.width}×${g.height} input, preprocessed as in training`),
        ),
        server,
      ),
    ),
    el(
      'p',
      { class: 'small muted', id: 'digit-model' },
      trained
        ? `Model v${model.version} (generation ${model.generation}), trained per-connection weights${model.trainedFrom ? ` from v${model.trainedFrom}` : ''}, run in this browser; test accuracy ${pct(model.ensembleTestAccuracy)}.`
        : `Model v${model.version} (generation ${model.generation}), run in this browser at ${model.weights.length} shared weights; ensemble test accuracy ${pct(model.ensembleTestAccuracy)}.`,
    ),
  );

  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const blank = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, SIZE, SIZE);
  };
  blank();

  let browserModel: BrowserModel | null = null;
  let pixels: Float32Array | null = null;
  const readyText = `Model ready: draw ${what}.`;
  const ready = (async () => {
    try {
      browserModel = await BrowserModel.load(model);
      state.textContent = readyText;
    } catch (e) {
      state.textContent = `Could not load the model: ${(e as Error).message}`;
      state.className = 'error';
    }
  })();

  const showPreview = (x: Float32Array) => {
    const pctx = preview.getContext('2d')!;
    const img = pctx.createImageData(g.width, g.height);
    for (let i = 0; i < x.length; i++) {
      const v = Math.max(0, Math.min(255, Math.round(x[i] * 255)));
      img.data.set([v, v, v, 255], i * 4);
    }
    pctx.putImageData(img, 0, 0);
  };

  /** Counts drawings: a prediction still running when Clear is pressed must not show its result. */
  let drawingId = 0;
  const predict = async () => {
    const id = ++drawingId;
    await ready;
    if (id !== drawingId) return;
    pixels = canvasToImage(canvas, g.rawWidth, g.rawHeight);
    if (!pixels || !browserModel) return;
    const x = preprocessDrawing(pixels, g);
    showPreview(x);
    const result = await browserModel.predict(x, classes.length);
    if (id !== drawingId) return;
    const winner = result.labels[0];
    vote.textContent = trained
      ? `Answer: ${classes[winner]}, by ${answeredHere(model)}`
      : `Vote: ${classes[winner]} (${result.agree} of ${result.weights} weights), by ${answeredHere(model)}`;
    replace(
      bars,
      ...Array.from(result.probabilities, (p, digit) =>
        el(
          'li',
          { class: digit === winner ? 'win' : null, 'data-digit': digit },
          el('span', { class: 'digit' }, classes[digit]),
          el('span', { class: 'bar' }, el('span', { style: `width:${(p * 100).toFixed(1)}%` })),
          el('span', { class: 'p' }, pct(p)),
        ),
      ),
    );
    state.textContent = trained
      ? 'Probabilities (trained per-connection weights):'
      : 'Ensemble probabilities (mean of the softmaxes at each shared weight):';
    if (serverButton) serverButton.disabled = false;
  };

  let drawing = false;
  let last: [number, number] | null = null;
  const point = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * SIZE, ((e.clientY - r.top) / r.height) * SIZE];
  };
  const stroke = (to: [number, number]) => {
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#fff';
    ctx.lineWidth = 22;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    const from = last ?? to;
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
    last = to;
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    last = null;
    canvas.setPointerCapture(e.pointerId);
    stroke(point(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (drawing) stroke(point(e));
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    last = null;
    void predict();
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  clear.addEventListener('click', () => {
    drawingId++;
    blank();
    bars.replaceChildren();
    vote.textContent = '';
    server.textContent = '';
    // The preview and the prediction go too: nothing of the old drawing stays on screen.
    preview.getContext('2d')!.clearRect(0, 0, preview.width, preview.height);
    if (browserModel) state.textContent = readyText;
    pixels = null;
    if (serverButton) serverButton.disabled = true;
  });
  serverButton?.addEventListener('click', async () => {
    if (!pixels || !options.predictUrl) return;
    server.textContent = 'Asking the server…';
    try {
      // The same version as this panel's, so the two answers are of one model.
      const res = await request(`${options.predictUrl}?version=${model.version}`, {
        method: 'POST',
        body: { pixels: [Array.from(pixels)], top_k: 3 },
      });
      const body = (await res.json()) as {
        model?: { answeredBy?: string };
        predictions: { label: number; className?: string; score: number }[][];
      };
      const top = body.predictions[0] ?? [];
      const by = body.model?.answeredBy ? `, answered by ${body.model.answeredBy}` : '';
      server.textContent = `Server: ${top.map((p) => `${p.className ?? p.label} (${pct(p.score)})`).join(', ')}${by}`;
    } catch (e) {
      server.textContent =
        e instanceof HttpError ? `Server: ${e.message}` : `Server: ${(e as Error).message}`;
    }
  });
}
