/**
 * The tabular run's counterpart of the draw panel: one numeric field per feature (prefilled with the
 * training split's means), run through the published ONNX model in this browser (browser-model.ts)
 * at every shared weight. The values go in raw: the model standardises them itself with the
 * training statistics baked into its graph. "Ask the server too" sends the same row to the model's
 * `/v2` infer route and shows its answer beside this one.
 */
import type { DatasetResource } from '../../src/api/types';
import { HttpError, type ModelVersion } from './api';
import { BrowserModel } from './browser-model';
import { featureFields, parseFeatureValues } from './dataset-facts';
import { el, pct, replace } from './dom';

export interface FeatureFormOptions {
  model: ModelVersion;
  dataset: DatasetResource;
  /** The version's `/v2` infer URL, when this viewer may ask the server too. */
  inferUrl: string | null;
  /** `Authorization` for `/v2` (a share link's token; the owner's session cookie needs none). */
  authorization: string | null;
}

interface InferAnswer {
  outputs: { name: string; data: number[]; parameters?: { class_names?: string[] } }[];
}

/** The `/v2` answer for one raw row: its label and the ensemble's probabilities. */
async function askServer(
  url: string,
  authorization: string | null,
  values: readonly number[],
): Promise<{ label: number; probabilities: number[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      Accept: 'application/json',
      'Content-Type': 'application/json',
      ...(authorization ? { Authorization: authorization } : {}),
    },
    body: JSON.stringify({
      inputs: [{ name: 'image', shape: [1, values.length], datatype: 'FP32', data: values }],
    }),
  });
  const body = (await res.json().catch(() => null)) as (InferAnswer & { error?: string }) | null;
  if (!res.ok || !body?.outputs) {
    throw new HttpError(res.status, `http_${res.status}`, body?.error ?? `${res.status} ${res.statusText}`);
  }
  const output = (name: string) => body.outputs.find((o) => o.name === name)?.data ?? [];
  return { label: output('label')[0], probabilities: output('probabilities') };
}

export function mountFeatureForm(root: HTMLElement, options: FeatureFormOptions): void {
  const { model, dataset } = options;
  const classes = dataset.classes;
  const fields = featureFields(dataset) ?? [];
  const inputs = fields.map((f, i) =>
    el('input', {
      type: 'text',
      inputmode: 'decimal',
      value: String(f.value),
      id: `feature-${i + 1}`,
      'data-feature': i,
      'aria-label': f.label,
      autocomplete: 'off',
      class: 'mono',
    }),
  );
  const predictButton = el('button', { type: 'submit', id: 'features-predict', disabled: true }, 'Predict');
  const reset = el('button', { type: 'button', class: 'secondary', id: 'features-reset' }, 'Training means');
  const serverButton = options.inferUrl
    ? el(
        'button',
        { type: 'button', class: 'secondary', id: 'features-server', disabled: true },
        'Ask the server too',
      )
    : null;
  const state = el('p', { class: 'muted small', id: 'features-state' }, 'Loading the model…');
  const vote = el('p', { class: 'vote', id: 'features-vote' });
  const bars = el('ol', { class: 'probs named', id: 'features-probs', start: 0 });
  const server = el('p', { class: 'small muted', id: 'features-server-answer' });
  const error = el('p', { class: 'error', id: 'features-error', hidden: true });
  const form = el(
    'form',
    { id: 'features-form', class: 'feature-form' },
    el(
      'div',
      { class: 'feature-fields' },
      ...fields.map((f, i) =>
        el('label', {}, el('span', { class: 'small muted feature-label' }, f.label), inputs[i]),
      ),
    ),
    error,
    el('div', { class: 'row wrap' }, predictButton, reset, serverButton),
  );
  replace(
    root,
    el(
      'p',
      { class: 'small muted' },
      `One raw value per feature, as in the uploaded table (the model standardises them with the training split's statistics). Prefilled with the training means.`,
    ),
    el('div', { class: 'digit-grid' }, form, el('div', {}, state, vote, bars, server)),
    el(
      'p',
      { class: 'small muted' },
      `Model v${model.version} (generation ${model.generation}), run in this browser at ${model.weights.length} shared weights; ensemble test accuracy ${pct(model.ensembleTestAccuracy)}.`,
    ),
  );

  let browserModel: BrowserModel | null = null;
  /** The row last predicted here: what the server is asked about. */
  let row: number[] | null = null;
  let requestId = 0;
  const read = (): number[] | null => {
    const parsed = parseFeatureValues(
      inputs.map((i) => i.value),
      fields.map((f) => f.label),
    );
    error.hidden = !('error' in parsed);
    error.textContent = 'error' in parsed ? parsed.error : '';
    return 'values' in parsed ? parsed.values : null;
  };
  const predict = async () => {
    const values = read();
    if (!values || !browserModel) return;
    const id = ++requestId;
    const result = await browserModel.predict(Float32Array.from(values), classes.length);
    if (id !== requestId) return;
    row = values;
    const winner = result.labels[0];
    vote.textContent = `Vote: ${classes[winner]} (${result.agree} of ${result.weights} weights)`;
    replace(
      bars,
      ...Array.from(result.probabilities, (p, c) =>
        el(
          'li',
          { class: c === winner ? 'win' : null, 'data-class': c, 'data-p': p },
          el('span', { class: 'digit' }, classes[c]),
          el('span', { class: 'bar' }, el('span', { style: `width:${(p * 100).toFixed(1)}%` })),
          el('span', { class: 'p' }, pct(p)),
        ),
      ),
    );
    state.textContent = 'Ensemble probabilities (mean of the softmaxes at each shared weight):';
    // The server's answer was about the previous row: none is shown for this one until asked.
    server.textContent = '';
    delete server.dataset.label;
    delete server.dataset.probabilities;
    if (serverButton) serverButton.disabled = false;
  };

  void (async () => {
    try {
      browserModel = await BrowserModel.load(model);
      state.textContent = 'Model ready: enter a row and press Predict.';
      predictButton.disabled = false;
    } catch (e) {
      state.textContent = `Could not load the model: ${(e as Error).message}`;
      state.className = 'error';
    }
  })();

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void predict();
  });
  // An edited row is no longer the one predicted: the server is asked only about what is shown.
  for (const input of inputs) {
    input.addEventListener('input', () => {
      if (serverButton) serverButton.disabled = true;
    });
  }
  reset.addEventListener('click', () => {
    inputs.forEach((input, i) => {
      input.value = String(fields[i].value);
    });
    if (serverButton) serverButton.disabled = true;
  });
  serverButton?.addEventListener('click', async () => {
    if (!row || !options.inferUrl) return;
    server.textContent = 'Asking the server…';
    delete server.dataset.label;
    delete server.dataset.probabilities;
    try {
      const asked = row;
      const answer = await askServer(options.inferUrl, options.authorization, asked);
      // Another row was predicted meanwhile: this answer is not about what the page shows.
      if (asked !== row) return;
      // Exact figures for whoever compares the two answers (the text rounds them).
      server.dataset.label = String(answer.label);
      server.dataset.probabilities = JSON.stringify(answer.probabilities);
      server.textContent = `Server: ${classes[answer.label] ?? answer.label} (${answer.probabilities
        .map((p, c) => `${classes[c]} ${pct(p)}`)
        .join(', ')})`;
    } catch (e) {
      server.textContent = `Server: ${(e as Error).message}`;
    }
  });
}
