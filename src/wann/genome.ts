/**
 * Genomes: the topology WANN evolves. Every enabled connection carries the one shared weight, so a
 * connection is only (innovation, source, destination, enabled).
 *
 * In memory a genome is struct-of-arrays over typed arrays (cheap to clone, no per-connection
 * objects: a population of 960 MNIST genomes holds ~2.5 M connections). Node ids are dense and
 * fixed by position, as in WANN.md: 0 bias, 1..inputs inputs, then the outputs, then hidden nodes in
 * creation order. So a node is just its activation id, `acts[id]`.
 *
 * Ids and innovation numbers need no counter shared by a run, so any machine can breed any genome
 * from its parent alone: a new hidden node's id is the genome's node count (ids stay dense), and a
 * new gene's innovation number is one above the genome's last (`lastInnovation + 1`), so innovation
 * numbers increase strictly along a genome, in the order its genes were created, and the initial
 * (inputs+1)×outputs genes keep 1…(inputs+1)·outputs in every genome. An innovation number therefore
 * identifies a gene within one genome and its descendants (which inherit it), not across a run:
 * nothing uses it across genomes, since WANN never crosses over (the reference's crossover
 * probability is 0).
 */
import { z } from 'zod';
import { ACTIVATION_IDS } from './activation-ids';

export interface Genome {
  readonly inputs: number;
  readonly outputs: number;
  /** Activation id per node id (length = node count). Bias and input entries are 1 and unused. */
  acts: Uint8Array;
  /** Connections, parallel arrays sorted by strictly increasing innovation number. */
  innov: Int32Array;
  src: Int32Array;
  dst: Int32Array;
  enabled: Uint8Array;
}

export type NodeKind = 'bias' | 'input' | 'output' | 'hidden';

export class GenomeFormatError extends Error {
  override name = 'GenomeFormatError';
}

export const GENOME_FORMAT = 'wann-genome/1';

export function firstOutput(g: Pick<Genome, 'inputs'>): number {
  return g.inputs + 1;
}
export function firstHidden(g: Pick<Genome, 'inputs' | 'outputs'>): number {
  return g.inputs + g.outputs + 1;
}
export function nodeCount(g: Genome): number {
  return g.acts.length;
}
/** The genome's highest innovation number (0 for a genome without genes). */
export function lastInnovation(g: Genome): number {
  return g.innov.length > 0 ? g.innov[g.innov.length - 1] : 0;
}
export function connectionCount(g: Genome): number {
  return g.innov.length;
}
export function nodeKind(g: Pick<Genome, 'inputs' | 'outputs'>, id: number): NodeKind {
  if (id === 0) return 'bias';
  if (id <= g.inputs) return 'input';
  if (id <= g.inputs + g.outputs) return 'output';
  return 'hidden';
}

/** Number of enabled connections (the third objective is 1 / this, with 0 counted as 1). */
export function enabledCount(g: Genome): number {
  let n = 0;
  for (let i = 0; i < g.enabled.length; i++) n += g.enabled[i];
  return n;
}

/** Number of innovation numbers the initial genome uses: one per (bias or input) × output. */
export function initialInnovations(inputs: number, outputs: number): number {
  return (inputs + 1) * outputs;
}

/**
 * The initial genome: every bias→output and input→output connection exists, each enabled with
 * probability `enableProb` (drawn from `random`, one draw per connection in innovation order);
 * no hidden nodes; outputs linear. Innovation of (source s, output o) is s·outputs + o + 1.
 */
export function initialGenome(
  inputs: number,
  outputs: number,
  enableProb: number,
  random: { float(): number },
): Genome {
  const n = initialInnovations(inputs, outputs);
  const g: Genome = {
    inputs,
    outputs,
    acts: new Uint8Array(inputs + outputs + 1).fill(ACTIVATION_IDS.linear),
    innov: new Int32Array(n),
    src: new Int32Array(n),
    dst: new Int32Array(n),
    enabled: new Uint8Array(n),
  };
  for (let s = 0, k = 0; s <= inputs; s++) {
    for (let o = 0; o < outputs; o++, k++) {
      g.innov[k] = k + 1;
      g.src[k] = s;
      g.dst[k] = inputs + 1 + o;
      g.enabled[k] = random.float() < enableProb ? 1 : 0;
    }
  }
  return g;
}

export function cloneGenome(g: Genome): Genome {
  return {
    inputs: g.inputs,
    outputs: g.outputs,
    acts: g.acts.slice(),
    innov: g.innov.slice(),
    src: g.src.slice(),
    dst: g.dst.slice(),
    enabled: g.enabled.slice(),
  };
}

// ---------------------------------------------------------------------------------------------
// wann-genome/1 JSON

export interface GenomeJson {
  format: typeof GENOME_FORMAT;
  inputs: number;
  outputs: number;
  nodes: { id: number; kind: NodeKind; act: number }[];
  conns: { innov: number; src: number; dst: number; enabled: boolean }[];
}

export function genomeToJson(g: Genome): GenomeJson {
  const nodes: GenomeJson['nodes'] = [];
  for (let id = 0; id < g.acts.length; id++) nodes.push({ id, kind: nodeKind(g, id), act: g.acts[id] });
  const conns: GenomeJson['conns'] = [];
  for (let i = 0; i < g.innov.length; i++) {
    conns.push({ innov: g.innov[i], src: g.src[i], dst: g.dst[i], enabled: g.enabled[i] === 1 });
  }
  return { format: GENOME_FORMAT, inputs: g.inputs, outputs: g.outputs, nodes, conns };
}

const int = z.number().int().nonnegative();
const genomeJsonSchema = z.strictObject({
  format: z.literal(GENOME_FORMAT),
  inputs: int.min(1).max(100_000),
  outputs: int.min(1).max(10_000),
  nodes: z
    .array(z.strictObject({ id: int, kind: z.enum(['bias', 'input', 'output', 'hidden']), act: int }))
    .max(1_000_000),
  conns: z
    .array(z.strictObject({ innov: int.min(1), src: int, dst: int, enabled: z.boolean() }))
    .max(5_000_000),
});

function formatZodIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length ? issue.path.join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/**
 * Parse and validate a wann-genome/1 document (a JSON string or an already parsed value). Every
 * structural rule is checked here, so a malformed genome is a clear GenomeFormatError naming the
 * offending field, never a crash deep inside evaluation. Cycles over enabled connections are
 * rejected by `compile` (src/wann/plan.ts), the step every evaluation goes through.
 */
export function parseGenome(input: unknown): Genome {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new GenomeFormatError(`genome is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = genomeJsonSchema.safeParse(value);
  if (!parsed.success) {
    throw new GenomeFormatError(
      `invalid genome: ${parsed.error.issues.slice(0, 3).map(formatZodIssue).join('; ')}`,
    );
  }
  const doc = parsed.data;
  const g: Genome = {
    inputs: doc.inputs,
    outputs: doc.outputs,
    acts: new Uint8Array(doc.nodes.length),
    innov: new Int32Array(doc.conns.length),
    src: new Int32Array(doc.conns.length),
    dst: new Int32Array(doc.conns.length),
    enabled: new Uint8Array(doc.conns.length),
  };
  if (doc.nodes.length < firstHidden(g)) {
    throw new GenomeFormatError(
      `invalid genome: nodes: expected at least ${firstHidden(g)} nodes (bias, ${g.inputs} inputs, ${g.outputs} outputs), got ${doc.nodes.length}`,
    );
  }
  doc.nodes.forEach((node, i) => {
    if (node.id !== i)
      throw new GenomeFormatError(
        `invalid genome: nodes.${i}.id: expected ${i} (ids are dense, in order), got ${node.id}`,
      );
    const kind = nodeKind(g, i);
    if (node.kind !== kind)
      throw new GenomeFormatError(
        `invalid genome: nodes.${i}.kind: node ${i} must be '${kind}', got '${node.kind}'`,
      );
    if (node.act < 1 || node.act > 11) {
      throw new GenomeFormatError(`invalid genome: nodes.${i}.act: unknown activation id ${node.act} (1–11)`);
    }
    g.acts[i] = node.act;
  });
  const n = doc.nodes.length;
  const seen = new Set<number>();
  doc.conns.forEach((c, i) => {
    const where = `invalid genome: conns.${i}`;
    if (i > 0 && c.innov <= doc.conns[i - 1].innov) {
      throw new GenomeFormatError(
        `${where}.innov: innovation numbers must strictly increase (${c.innov} after ${doc.conns[i - 1].innov})`,
      );
    }
    if (c.src >= n) throw new GenomeFormatError(`${where}.src: node ${c.src} does not exist`);
    if (c.dst >= n) throw new GenomeFormatError(`${where}.dst: node ${c.dst} does not exist`);
    const dk = nodeKind(g, c.dst);
    if (dk === 'bias' || dk === 'input')
      throw new GenomeFormatError(`${where}.dst: connection into ${dk} node ${c.dst}`);
    if (nodeKind(g, c.src) === 'output' && dk === 'output') {
      throw new GenomeFormatError(`${where}: output→output connection ${c.src}→${c.dst}`);
    }
    if (c.src === c.dst) throw new GenomeFormatError(`${where}: self-loop on node ${c.src}`);
    const key = c.src * n + c.dst;
    if (seen.has(key)) throw new GenomeFormatError(`${where}: duplicate connection ${c.src}→${c.dst}`);
    seen.add(key);
    g.innov[i] = c.innov;
    g.src[i] = c.src;
    g.dst[i] = c.dst;
    g.enabled[i] = c.enabled ? 1 : 0;
  });
  return g;
}

// ---------------------------------------------------------------------------------------------
// Compact binary codec for populations (R2 blobs for evaluators, Durable Object state).
//
// Every genome of a run keeps the initial (inputs+1)×outputs connections as its first genes (no
// operator removes a gene), so those are sent as a bitset of enabled flags; added genes follow as
// varints. Early MNIST genomes take ~350 bytes instead of ~33 KB of JSON.

const MAGIC = 0x57504f50; // 'WPOP'

class ByteWriter {
  private buf = new Uint8Array(1024);
  length = 0;
  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }
  varint(v: number): void {
    if (!(v >= 0) || !Number.isInteger(v)) throw new RangeError(`varint of ${v}`);
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.length++] = v;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

class ByteReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new GenomeFormatError('population blob is truncated');
    return this.buf[this.pos++];
  }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = this.byte();
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
      if (mul > 2 ** 49) throw new GenomeFormatError('population blob has a malformed varint');
    }
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.buf.length) throw new GenomeFormatError('population blob is truncated');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function hasCanonicalInitialGenes(g: Genome): boolean {
  const n = initialInnovations(g.inputs, g.outputs);
  if (g.innov.length < n) return false;
  for (let s = 0, k = 0; s <= g.inputs; s++) {
    for (let o = 0; o < g.outputs; o++, k++) {
      if (g.innov[k] !== k + 1 || g.src[k] !== s || g.dst[k] !== g.inputs + 1 + o) return false;
    }
  }
  return true;
}

export function encodePopulation(genomes: readonly Genome[]): Uint8Array {
  const w = new ByteWriter();
  w.varint(MAGIC);
  w.varint(genomes.length);
  for (const g of genomes) {
    w.varint(g.inputs);
    w.varint(g.outputs);
    w.varint(g.acts.length);
    w.bytes(g.acts.subarray(g.inputs + 1));
    const canonical = hasCanonicalInitialGenes(g);
    w.byte(canonical ? 1 : 0);
    let start = 0;
    if (canonical) {
      start = initialInnovations(g.inputs, g.outputs);
      const bits = new Uint8Array(Math.ceil(start / 8));
      for (let k = 0; k < start; k++) if (g.enabled[k]) bits[k >> 3] |= 1 << (k & 7);
      w.bytes(bits);
    }
    w.varint(g.innov.length - start);
    let prev = start;
    for (let k = start; k < g.innov.length; k++) {
      w.varint(g.innov[k] - prev);
      prev = g.innov[k];
      w.varint(g.src[k]);
      w.varint(g.dst[k]);
      w.byte(g.enabled[k]);
    }
  }
  return w.result();
}

export function decodePopulation(bytes: Uint8Array): Genome[] {
  const r = new ByteReader(bytes);
  if (r.varint() !== MAGIC) throw new GenomeFormatError('not a population blob (bad magic)');
  const count = r.varint();
  const out: Genome[] = [];
  for (let i = 0; i < count; i++) {
    const inputs = r.varint();
    const outputs = r.varint();
    const nodes = r.varint();
    if (nodes < inputs + outputs + 1)
      throw new GenomeFormatError(`population blob: genome ${i} has too few nodes`);
    const acts = new Uint8Array(nodes).fill(ACTIVATION_IDS.linear);
    acts.set(r.bytes(nodes - inputs - 1), inputs + 1);
    const canonical = r.byte() === 1;
    const start = canonical ? initialInnovations(inputs, outputs) : 0;
    const bits = canonical ? r.bytes(Math.ceil(start / 8)) : new Uint8Array(0);
    const extra = r.varint();
    const total = start + extra;
    const g: Genome = {
      inputs,
      outputs,
      acts,
      innov: new Int32Array(total),
      src: new Int32Array(total),
      dst: new Int32Array(total),
      enabled: new Uint8Array(total),
    };
    for (let s = 0, k = 0; k < start; s++) {
      for (let o = 0; o < outputs; o++, k++) {
        g.innov[k] = k + 1;
        g.src[k] = s;
        g.dst[k] = inputs + 1 + o;
        g.enabled[k] = (bits[k >> 3] >> (k & 7)) & 1;
      }
    }
    let prev = start;
    for (let k = start; k < total; k++) {
      prev += r.varint();
      g.innov[k] = prev;
      g.src[k] = r.varint();
      g.dst[k] = r.varint();
      g.enabled[k] = r.byte();
    }
    out.push(g);
  }
  return out;
}

/**
 * Where each genome of an encoded population starts, plus where the last one ends: genome i is
 * bytes [offsets[i], offsets[i + 1]). A scan over the codec; nothing is decoded.
 */
export function populationOffsets(bytes: Uint8Array): Uint32Array {
  const r = new ByteReader(bytes);
  if (r.varint() !== MAGIC) throw new GenomeFormatError('not a population blob (bad magic)');
  const count = r.varint();
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) {
    offsets[i] = r.pos;
    const inputs = r.varint();
    const outputs = r.varint();
    const nodes = r.varint();
    if (nodes < inputs + outputs + 1)
      throw new GenomeFormatError(`population blob: genome ${i} has too few nodes`);
    r.bytes(nodes - inputs - 1);
    if (r.byte() === 1) r.bytes(Math.ceil(initialInnovations(inputs, outputs) / 8));
    const extra = r.varint();
    for (let k = 0; k < extra; k++) {
      r.varint();
      r.varint();
      r.varint();
      r.byte();
    }
  }
  offsets[count] = r.pos;
  return offsets;
}

/**
 * Genomes [start, end) of an encoded population as an encoded population of their own, equal to
 * `encodePopulation(decodePopulation(bytes).slice(start, end))`: bytes are copied, not decoded.
 */
export function slicePopulation(
  bytes: Uint8Array,
  offsets: Uint32Array,
  start: number,
  end: number,
): Uint8Array {
  const count = offsets.length - 1;
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= count)) {
    throw new RangeError(`slice [${start}, ${end}) of a population of ${count}`);
  }
  const w = new ByteWriter();
  w.varint(MAGIC);
  w.varint(end - start);
  w.bytes(bytes.subarray(offsets[start], offsets[end]));
  return w.result();
}

/**
 * One genome from its bytes in an encoded population (bytes [offsets[i], offsets[i + 1]), e.g. a
 * ranged read of a stored slice): the same decoding as `decodePopulation`.
 */
export function decodeGenomeBytes(bytes: Uint8Array): Genome {
  const w = new ByteWriter();
  w.varint(MAGIC);
  w.varint(1);
  w.bytes(bytes);
  const out = decodePopulation(w.result());
  return out[0];
}

/** Base64 of the binary codec: lets the population live inside plain JSON state. */
export function populationToBase64(genomes: readonly Genome[]): string {
  return bytesToBase64(encodePopulation(genomes));
}
export function populationFromBase64(text: string): Genome[] {
  return decodePopulation(base64ToBytes(text));
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_CODES = new Uint8Array(64).map((_, i) => B64.charCodeAt(i));
const B64_LOOKUP = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_LOOKUP[B64.charCodeAt(i)] = i;
const textDecoder = new TextDecoder();

// Table-driven: `btoa(String.fromCharCode(...))` is ~20× slower on multi-MB populations.
export function bytesToBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = B64_CODES[v >> 18];
    out[o++] = B64_CODES[(v >> 12) & 63];
    out[o++] = B64_CODES[(v >> 6) & 63];
    out[o++] = B64_CODES[v & 63];
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const v = (bytes[i] << 16) | (rest === 2 ? bytes[i + 1] << 8 : 0);
    out[o++] = B64_CODES[v >> 18];
    out[o++] = B64_CODES[(v >> 12) & 63];
    out[o++] = rest === 2 ? B64_CODES[(v >> 6) & 63] : 61;
    out[o++] = 61;
  }
  return textDecoder.decode(out);
}

export function base64ToBytes(text: string): Uint8Array {
  let len = text.length;
  while (len > 0 && text.charCodeAt(len - 1) === 61) len--;
  const out = new Uint8Array(Math.floor((len * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64_LOOKUP[c] : -1;
    if (v < 0) throw new GenomeFormatError(`invalid base64 character at position ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
