/**
 * Genome → ONNX `ModelProto` bytes: one file serves every shared weight.
 *
 * Inputs: `image` float32 [N, inputs] (preprocessed 16×16, values in [0, 1]) and `shared_weight`
 * float32 [1]. Outputs: `probabilities` float32 [N, outputs] (softmax) and `label` int64 [N]
 * (argmax, ties → lowest class), the same semantics as `src/wann/network.ts`.
 *
 * Shape of the graph (standard opset-17 ops only, so any ONNX runtime loads it):
 * - The network is computed in float64 (`Cast` on the way in and out). `src/wann` evaluates in
 *   doubles too, and float32 pre-activations of ~100 would move sin(πx) by ~1e-5: more than the
 *   1e-5 agreement promised between the two.
 * - The compiled plan's rows (live hidden nodes and outputs) are grouped into levels by longest
 *   path over hidden sources. A level is one `MatMul` of the image by a 0/1 count matrix (input
 *   sources), plus one of the hidden values computed so far (hidden sources), plus the bias count,
 *   times the shared weight; then one activation op per activation present (a `Gather` picks its
 *   columns when a level mixes activations). Hidden values are `Concat`enated level by level. So the
 *   op count grows with depth, not with node count, and an unmutated genome is a single MatMul.
 * - Logits are clamped into ±1e300 and NaN becomes −1e300 before the softmax, as `Evaluator` does.
 * - A tabular dataset's model takes raw feature values: `standardization` adds `Sub(mean32)` and
 *   `Mul(scale32)` on the float32 input first (src/data/standardize.ts defines the arithmetic).
 * - Trained weights (`connectionWeights`, src/wann/train.ts): the same graph with each connection's
 *   own weight in the matrices instead of 0/1 counts, no `Mul` by a shared weight, and no
 *   `shared_weight` input.
 */

import protobuf from 'protobufjs/minimal.js';
import type { Standardization } from '../data/standardize';
import { ACTIVATION_IDS } from '../wann/activation-ids';
import type { Genome } from '../wann/genome';
import { compile, type Plan } from '../wann/network';
import { onnx } from './onnx-pb.js';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
export const ONNX_INPUT_IMAGE = 'image';
export const ONNX_INPUT_WEIGHT = 'shared_weight';
export const ONNX_OUTPUT_PROBABILITIES = 'probabilities';
export const ONNX_OUTPUT_LABEL = 'label';

const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

export interface OnnxExportOptions {
  /** Graph name (e.g. the run id). */
  name?: string;
  /** Model version written into ModelProto.model_version. */
  version?: number;
  /** Extra `metadata_props` (string → string), e.g. run id, generation, weights. */
  metadata?: Record<string, string>;
  /**
   * Trained per-connection weights, one per gene of the genome (index = position in `genome.src`;
   * disabled genes' entries are ignored): src/wann/train.ts `geneWeights`. Given, the weights are
   * baked into the graph's initializers and the model has no `shared_weight` input: node value =
   * act(Σ w_c · source), as `trainedForward`/`trainedProbabilities` compute it.
   */
  connectionWeights?: Float64Array;
  /** What the `image` input holds (the model's doc string says it); default: MNIST's preprocessing. */
  inputDescription?: string;
  /**
   * A tabular dataset's standardisation (src/data/standardize.ts `standardization`), baked in so the
   * model takes RAW feature values: `Sub(mean32)` then `Mul(scale32)` in float32 before the network,
   * exactly as the shards were standardised (bit for bit).
   */
  standardization?: Standardization;
}

/** The `image` input of a model searched on MNIST. */
export const MNIST_INPUT_DESCRIPTION =
  'image: preprocessed 16x16 MNIST (/255, resize, deskew), values in [0, 1].';

type Attribute = onnx.AttributeProto.$Properties;

/** Collects nodes and initializers with unique value names. */
class GraphBuilder {
  readonly nodes: onnx.NodeProto.$Properties[] = [];
  readonly initializers: onnx.TensorProto.$Properties[] = [];
  private counter = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  op(opType: string, inputs: string[], attributes: Attribute[] = [], output = this.fresh(opType)): string {
    this.nodes.push({ opType, input: inputs, output: [output], name: output, attribute: attributes });
    return output;
  }

  doubles(prefix: string, values: Float64Array, dims: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({
      name,
      dims,
      dataType: DataType.DOUBLE,
      rawData: littleEndianBytes(values),
    });
    return name;
  }

  floats(prefix: string, values: Float32Array, dims: number[]): string {
    const name = this.fresh(prefix);
    this.initializers.push({
      name,
      dims,
      dataType: DataType.FLOAT,
      rawData: littleEndianBytes(values),
    });
    return name;
  }

  int64s(prefix: string, values: readonly number[]): string {
    const name = this.fresh(prefix);
    const data = new BigInt64Array(values.length);
    values.forEach((v, i) => {
      data[i] = BigInt(v);
    });
    this.initializers.push({
      name,
      dims: [values.length],
      dataType: DataType.INT64,
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  scalar(prefix: string, value: number): string {
    return this.doubles(prefix, new Float64Array([value]), []);
  }
}

/** TensorProto raw_data is little-endian; typed arrays use the platform order (LE everywhere we run). */
function littleEndianBytes(a: Float64Array | Float32Array | BigInt64Array): Uint8Array {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('ONNX export needs a little-endian platform');
  }
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const intAttr = (name: string, i: number): Attribute => ({ name, type: AttrType.INT, i });

/** The ONNX ops of activation `id` applied to `pre` (float64). */
function activation(b: GraphBuilder, id: number, pre: string): string {
  switch (id) {
    case ACTIVATION_IDS.linear:
      return pre;
    case ACTIVATION_IDS.step:
      return b.op('Cast', [b.op('Greater', [pre, b.scalar('zero', 0)])], [intAttr('to', DataType.DOUBLE)]);
    case ACTIVATION_IDS.sin:
      return b.op('Sin', [b.op('Mul', [pre, b.scalar('pi', Math.PI)])]);
    case ACTIVATION_IDS.gaussian:
      return b.op('Exp', [b.op('Mul', [b.op('Mul', [pre, pre]), b.scalar('minus_half', -0.5)])]);
    case ACTIVATION_IDS.tanh:
      return b.op('Tanh', [pre]);
    case ACTIVATION_IDS.sigmoid:
      return b.op('Sigmoid', [pre]); // = (tanh(x/2) + 1)/2
    case ACTIVATION_IDS.inverse:
      return b.op('Neg', [pre]);
    case ACTIVATION_IDS.abs:
      return b.op('Abs', [pre]);
    case ACTIVATION_IDS.relu:
      return b.op('Relu', [pre]);
    case ACTIVATION_IDS.cos:
      return b.op('Cos', [b.op('Mul', [pre, b.scalar('pi', Math.PI)])]);
    case ACTIVATION_IDS.squared:
      return b.op('Mul', [pre, pre]);
    default:
      throw new RangeError(`unknown activation id ${id}`);
  }
}

/** Level of each row: 0 without hidden sources, else 1 + the highest level among them. */
function rowLevels(plan: Plan): Int32Array {
  const level = new Int32Array(plan.rows);
  for (let r = 0; r < plan.rows; r++) {
    let l = 0;
    for (let e = plan.hiddenStart[r]; e < plan.hiddenStart[r + 1]; e++) {
      l = Math.max(l, level[plan.hiddenSource[e]] + 1);
    }
    level[r] = l;
  }
  return level;
}

/**
 * Per-connection weights laid out like the plan: for each row, the summed weight of each bias, input
 * and hidden source (duplicate genes add up, as their terms do).
 */
interface RowWeights {
  bias: Float64Array;
  input: Map<number, number>[];
  hidden: Map<number, number>[];
}

function rowWeights(genome: Genome, plan: Plan, weights: Float64Array): RowWeights {
  if (weights.length !== genome.src.length) {
    throw new RangeError(
      `connectionWeights has ${weights.length} entries, the genome ${genome.src.length} genes`,
    );
  }
  const rowOf = new Int32Array(genome.acts.length).fill(-1);
  for (let r = 0; r < plan.rows; r++) rowOf[plan.rowNode[r]] = r;
  const out: RowWeights = {
    bias: new Float64Array(plan.rows),
    input: Array.from({ length: plan.rows }, () => new Map()),
    hidden: Array.from({ length: plan.rows }, () => new Map()),
  };
  for (let k = 0; k < genome.src.length; k++) {
    const r = genome.enabled[k] ? rowOf[genome.dst[k]] : -1;
    if (r < 0) continue;
    const w = weights[k];
    if (!Number.isFinite(w)) throw new RangeError(`connection weight ${k} is not finite (${w})`);
    const s = genome.src[k];
    if (s === 0) out.bias[r] += w;
    else if (s <= genome.inputs) out.input[r].set(s - 1, (out.input[r].get(s - 1) ?? 0) + w);
    else out.hidden[r].set(rowOf[s], (out.hidden[r].get(rowOf[s]) ?? 0) + w);
  }
  return out;
}

/**
 * Build the graph's nodes from a compiled plan; returns the names of the logits (float64 [N, outputs]).
 * `w` is the shared weight's value name, or per-connection weights (baked into the matrices).
 */
function buildNetwork(b: GraphBuilder, plan: Plan, x: string, w: string | RowWeights): string {
  const level = rowLevels(plan);
  const levels = plan.rows === 0 ? 0 : Math.max(...level) + 1;
  /** Column of each computed row in `hidden`, −1 until computed. */
  const column = new Int32Array(plan.rows).fill(-1);
  let hidden: string | null = null;
  let hiddenColumns = 0;
  for (let d = 0; d < levels; d++) {
    const rows: number[] = [];
    for (let r = 0; r < plan.rows; r++) if (level[r] === d) rows.push(r);
    const k = rows.length;
    const fromInputs = new Float64Array(plan.inputs * k);
    const fromHidden = new Float64Array(hiddenColumns * k);
    const bias = new Float64Array(k);
    let anyHidden = false;
    let anyBias = false;
    rows.forEach((r, j) => {
      if (typeof w !== 'string') {
        // Trained: the matrices hold the connections' own weights.
        bias[j] = w.bias[r];
        for (const [f, v] of w.input[r]) fromInputs[f * k + j] += v;
        for (const [q, v] of w.hidden[r]) fromHidden[column[q] * k + j] += v;
        if (bias[j] !== 0) anyBias = true;
        if (w.hidden[r].size > 0) anyHidden = true;
        return;
      }
      bias[j] = plan.rowBias[r];
      if (bias[j] !== 0) anyBias = true;
      for (let e = plan.inputStart[r]; e < plan.inputStart[r + 1]; e++)
        fromInputs[plan.inputSource[e] * k + j] += 1;
      for (let e = plan.hiddenStart[r]; e < plan.hiddenStart[r + 1]; e++) {
        fromHidden[column[plan.hiddenSource[e]] * k + j] += 1;
        anyHidden = true;
      }
    });
    // Always the input MatMul: it also gives rows without any source their [N, k] shape.
    let sum = b.op('MatMul', [x, b.doubles(`inputs_to_level${d}`, fromInputs, [plan.inputs, k])]);
    if (anyHidden && hidden) {
      const h = b.op('MatMul', [hidden, b.doubles(`hidden_to_level${d}`, fromHidden, [hiddenColumns, k])]);
      sum = b.op('Add', [sum, h]);
    }
    if (anyBias) sum = b.op('Add', [sum, b.doubles(`bias_level${d}`, bias, [k])]);
    const pre = typeof w === 'string' ? b.op('Mul', [sum, w]) : sum;

    // One activation op per activation id present, in order of first appearance.
    const acts: number[] = [];
    for (const r of rows) if (!acts.includes(plan.rowAct[r])) acts.push(plan.rowAct[r]);
    const parts: string[] = [];
    if (acts.length === 1) {
      parts.push(activation(b, acts[0], pre));
      rows.forEach((r, j) => {
        column[r] = hiddenColumns + j;
      });
    } else {
      let next = hiddenColumns;
      for (const a of acts) {
        const picked: number[] = [];
        rows.forEach((r, j) => {
          if (plan.rowAct[r] === a) {
            picked.push(j);
            column[r] = next++;
          }
        });
        const gathered = b.op('Gather', [pre, b.int64s(`level${d}_act${a}`, picked)], [intAttr('axis', 1)]);
        parts.push(activation(b, a, gathered));
      }
    }
    hidden = b.op('Concat', hidden ? [hidden, ...parts] : parts, [intAttr('axis', 1)]);
    hiddenColumns += k;
  }
  const outputColumns = Array.from(plan.outputRow, (r) => column[r]);
  return b.op('Gather', [hidden!, b.int64s('output_columns', outputColumns)], [intAttr('axis', 1)]);
}

const tensorType = (elemType: number, dims: (number | string)[]): onnx.TypeProto.$Properties => ({
  tensorType: {
    elemType,
    shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
  },
});

/** Serialise `genome` as an ONNX model (see the module comment for its inputs and outputs). */
export function genomeToOnnx(genome: Genome, options: OnnxExportOptions = {}): Uint8Array {
  const plan = compile(genome);
  const b = new GraphBuilder();
  const trained = options.connectionWeights;
  const z = options.standardization;
  if (z && (z.mean.length !== genome.inputs || z.scale.length !== genome.inputs)) {
    throw new RangeError(`standardization has ${z.mean.length} features, the genome ${genome.inputs} inputs`);
  }
  // Standardised in float32 (as the shards were), then the network in float64.
  const input = z
    ? b.op('Mul', [
        b.op('Sub', [ONNX_INPUT_IMAGE, b.floats('feature_mean', z.mean, [genome.inputs])]),
        b.floats('feature_scale', z.scale, [genome.inputs]),
      ])
    : ONNX_INPUT_IMAGE;
  const x = b.op('Cast', [input], [intAttr('to', DataType.DOUBLE)], 'image_f64');
  const w = trained
    ? rowWeights(genome, plan, trained)
    : b.op('Cast', [ONNX_INPUT_WEIGHT], [intAttr('to', DataType.DOUBLE)], 'shared_weight_f64');
  const raw = buildNetwork(b, plan, x, w);
  // As Evaluator: logits clamped into ±1e300, NaN → −1e300 (the least likely class).
  const low = b.scalar('logit_min', -1e300);
  const clipped = b.op('Clip', [raw, low, b.scalar('logit_max', 1e300)]);
  const logits = b.op('Where', [b.op('IsNaN', [raw]), low, clipped], [], 'logits');
  const softmax = b.op('Softmax', [logits], [intAttr('axis', -1)]);
  b.op('Cast', [softmax], [intAttr('to', DataType.FLOAT)], ONNX_OUTPUT_PROBABILITIES);
  b.op('ArgMax', [logits], [intAttr('axis', 1), intAttr('keepdims', 0)], ONNX_OUTPUT_LABEL);

  const model: onnx.ModelProto.$Properties = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'wann-edge',
    producerVersion: '1',
    modelVersion: options.version ?? 1,
    docString:
      (trained
        ? 'Weight Agnostic Neural Network topology with trained per-connection weights (no shared_weight input). '
        : 'Weight Agnostic Neural Network: every connection carries the one shared weight (input shared_weight). ') +
      (options.inputDescription ?? MNIST_INPUT_DESCRIPTION),
    graph: {
      name: options.name ?? 'wann',
      node: b.nodes,
      initializer: b.initializers,
      input: [
        { name: ONNX_INPUT_IMAGE, type: tensorType(DataType.FLOAT, ['N', genome.inputs]) },
        ...(trained ? [] : [{ name: ONNX_INPUT_WEIGHT, type: tensorType(DataType.FLOAT, [1]) }]),
      ],
      output: [
        { name: ONNX_OUTPUT_PROBABILITIES, type: tensorType(DataType.FLOAT, ['N', genome.outputs]) },
        { name: ONNX_OUTPUT_LABEL, type: tensorType(DataType.INT64, ['N']) },
      ],
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  // The plain Writer, not the Buffer-backed one protobufjs picks when `Buffer` exists: under
  // workerd's nodejs_compat, Buffer#utf8Write rejects the lengths protobufjs passes.
  return onnx.ModelProto.encode(model, new protobuf.Writer()).finish();
}
