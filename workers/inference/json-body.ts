/**
 * A JSON reader for prediction bodies that builds no JavaScript values for the pixels.
 *
 * `JSON.parse` on a 20 MiB body builds millions of values before any shape check can run (about
 * 600 MB for `{"pixels": [[0], [0], …]}`), and schema validation copies them again. This reader
 * walks the UTF-8 bytes once: the one array that holds the pixels (`pixels`, or `inputs[0].data`)
 * goes straight into a Float64Array and is refused as soon as it holds more than any valid request
 * could; the rest of the document (a few small fields) becomes ordinary values within a small
 * budget. A request costs the body plus 8 bytes per accepted number, whatever it contains.
 *
 * Numbers are the same doubles `JSON.parse` gives, without a string per number: Clinger's fast
 * path (up to 15 digits and a power of ten up to 10^22: one correctly rounded operation), an exact
 * double-double quotient for 16 to 19 digits (`exactQuotient`), else `Number` of the validated
 * token.
 */
import { InputError } from './input-error';

/** The pixel array, read into numbers. */
export class TensorData {
  constructor(
    /** The numbers in document order (nesting flattened). */
    readonly values: Float64Array,
    /** `rows` layout: the length of each inner array (one per image). */
    readonly rows: readonly number[],
  ) {}
}

export interface TensorSpec {
  /** Where the pixel array lies: object keys and array indices from the document's root. */
  path: readonly (string | number)[];
  /** Its name in messages: `pixels`, `inputs[0].data`. */
  name: string;
  /**
   * `rows`: an array of arrays of numbers, one per image (`pixels`); `nested`: numbers in arrays
   * nested at most `maxDepth` deep, flattened (the Open Inference Protocol's `data`).
   */
  layout: 'rows' | 'nested';
  /** `nested`: most numbers accepted. */
  maxValues: number;
  /** `rows`: most images, and most numbers per image. */
  maxRows: number;
  maxRowLength: number;
}

/** Values outside the pixel array (ids, parameters, names); a real request has a dozen. */
export const MAX_OTHER_VALUES = 4096;
/** Longest string anywhere in the body, in UTF-8 bytes. */
export const MAX_STRING_BYTES = 64 * 1024;
/** Longest number token: JSON allows any length, a pixel needs about 20 characters. */
export const MAX_NUMBER_CHARS = 512;
const MAX_DEPTH = 32;
const MAX_TENSOR_DEPTH = 8;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const SPLITTER = 2 ** 27 + 1;
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i); // exact up to 10^22
const ESCAPES: Record<number, string> = {
  34: '"',
  92: '\\',
  47: '/',
  98: '\b',
  102: '\f',
  110: '\n',
  114: '\r',
  116: '\t',
};
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const isDigit = (c: number) => c >= ZERO && c <= NINE;

/** The low part of the last `twoProduct` (module state: no array per call on the hot path). */
let productLow = 0;

/** Dekker's exact product: a · b = the result + `productLow` (no FMA in JavaScript). */
function twoProduct(a: number, b: number): number {
  const hi = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  productLow = ah * bh - hi + ah * bl + al * bh + al * bl;
  return hi;
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/**
 * The double nearest to (head · 10^tailDigits + tail) / 10^k, for head < 10^15, tail < 10^4 and
 * k ≤ 22 (a pixel such as 0.13725490196078433 has 17 digits: too many for Clinger's fast path).
 * The numerator is kept exactly as a double-double and divided with a remainder step, so `x + δ` is
 * the quotient to ~2^-100; `x` is its correct rounding unless δ lies within 2^-30 of half an ulp
 * (or `x` is a power of two, where the ulp below is smaller): then NaN, and the caller uses Number().
 */
function exactQuotient(head: number, tailDigits: number, tail: number, k: number): number {
  const ph = twoProduct(head, POW10[tailDigits]);
  const pl = productLow;
  const s = ph + tail;
  const z = s - ph;
  const t = pl + (ph - (s - z) + (tail - z)); // numerator = s + t exactly
  const d = POW10[k];
  const q1 = s / d;
  const mh = twoProduct(q1, d);
  const ml = productLow;
  const q2 = (s - mh - ml + t) / d;
  const x = q1 + q2;
  const w = x - q1;
  const delta = q1 - (x - w) + (q2 - w);
  bits[0] = x;
  const biasedExponent = (words[1] >>> 20) & 0x7ff;
  const powerOfTwo = (words[1] & 0xfffff) === 0 && words[0] === 0;
  if (biasedExponent === 0 || powerOfTwo) return Number.NaN;
  const halfUlp = 2 ** (biasedExponent - 1076);
  return Math.abs(Math.abs(delta) - halfUlp) <= halfUlp * 2 ** -30 ? Number.NaN : x;
}

class BodyReader {
  private pos = 0;
  private others = 0;
  tensor: TensorData | null = null;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly spec: TensorSpec,
  ) {
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) this.pos = 3; // a UTF-8 BOM
  }

  document(): unknown {
    this.space();
    const value = this.value(0, 0);
    this.space();
    if (this.pos < this.bytes.length) this.syntax('unexpected data after the JSON value');
    return value;
  }

  private syntax(what: string): never {
    const at = this.pos < this.bytes.length ? ` at byte ${this.pos}` : ' at the end';
    throw new InputError(400, `the body is not valid JSON: ${what}${at}`);
  }

  private space(): void {
    const b = this.bytes;
    let c = b[this.pos];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.pos];
  }

  private expect(byte: number, what: string): void {
    if (this.bytes[this.pos] !== byte) this.syntax(`expected ${what}`);
    this.pos++;
  }

  private counted(): void {
    if (++this.others > MAX_OTHER_VALUES) {
      throw new InputError(
        400,
        `the body holds more than ${MAX_OTHER_VALUES} values besides ${this.spec.name}; a request needs a few`,
      );
    }
  }

  /** `level`: how many steps of the tensor path lead here (-1: off the path). */
  private value(level: number, depth: number): unknown {
    const c = this.bytes[this.pos];
    if (level === this.spec.path.length && c === OPEN_ARRAY) {
      this.tensor = this.spec.layout === 'rows' ? this.rows() : this.nested();
      return this.tensor;
    }
    this.counted();
    if (c === OPEN_OBJECT) return this.object(level, depth + 1);
    if (c === OPEN_ARRAY) return this.array(level, depth + 1);
    if (c === QUOTE) return this.string();
    if (c === MINUS || isDigit(c)) return this.number();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    return this.syntax(c === undefined ? 'unexpected end' : `unexpected '${String.fromCharCode(c)}'`);
  }

  private literal(word: string): boolean {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos + i] !== word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  private next(level: number, step: string | number): number {
    return level >= 0 && level < this.spec.path.length && this.spec.path[level] === step ? level + 1 : -1;
  }

  private object(level: number, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.syntax(`nested deeper than ${MAX_DEPTH}`);
    this.pos++;
    const out: Record<string, unknown> = {};
    this.space();
    if (this.bytes[this.pos] === CLOSE_OBJECT) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.bytes[this.pos] !== QUOTE) this.syntax('expected a key');
      const key = this.string();
      // A repeated key is refused before its value is read: repeating the tensor's key would
      // otherwise read (and allocate) the tensor once per repeat. Keys count as values.
      if (Object.hasOwn(out, key)) {
        const shown = key.length > 40 ? `${key.slice(0, 40)}…` : key;
        throw new InputError(400, `the key ${JSON.stringify(shown)} appears twice in one object`);
      }
      this.counted();
      this.space();
      this.expect(COLON, "':'");
      this.space();
      const value = this.value(this.next(level, key), depth);
      // As JSON.parse: an own property, even for "__proto__".
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.space();
      if (this.bytes[this.pos] === COMMA) {
        this.pos++;
        continue;
      }
      this.expect(CLOSE_OBJECT, "',' or '}'");
      return out;
    }
  }

  private array(level: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.syntax(`nested deeper than ${MAX_DEPTH}`);
    this.pos++;
    const out: unknown[] = [];
    this.space();
    if (this.bytes[this.pos] === CLOSE_ARRAY) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.space();
      out.push(this.value(this.next(level, out.length), depth));
      this.space();
      if (this.bytes[this.pos] === COMMA) {
        this.pos++;
        continue;
      }
      this.expect(CLOSE_ARRAY, "',' or ']'");
      return out;
    }
  }

  private string(): string {
    const b = this.bytes;
    const start = ++this.pos;
    let ascii = true;
    let escaped = false;
    for (;;) {
      const c = b[this.pos];
      if (c === QUOTE) break;
      if (c === undefined) this.syntax('unterminated string');
      if (c < 0x20) this.syntax('control character in a string');
      if (c === BACKSLASH) {
        escaped = true;
        this.pos += 2;
        continue;
      }
      if (c >= 0x80) ascii = false;
      this.pos++;
    }
    const end = this.pos++;
    if (end - start > MAX_STRING_BYTES) {
      throw new InputError(400, `strings in the body are limited to ${MAX_STRING_BYTES} bytes`);
    }
    if (!escaped) return this.text(start, end, ascii);
    let out = '';
    let from = start;
    for (let i = start; i < end; i++) {
      if (b[i] !== BACKSLASH) continue;
      out += this.text(from, i, false);
      const e = b[i + 1];
      if (e === 0x75) {
        let code = 0;
        for (let k = 2; k < 6; k++) {
          const h = b[i + k];
          const digit = isDigit(h)
            ? h - ZERO
            : (h | 0x20) >= 0x61 && (h | 0x20) <= 0x66
              ? (h | 0x20) - 87
              : -1;
          if (digit < 0 || i + k >= end) {
            this.pos = i;
            this.syntax('bad \\u escape');
          }
          code = code * 16 + digit;
        }
        out += String.fromCharCode(code);
        i += 5;
      } else {
        const ch = ESCAPES[e];
        if (ch === undefined || i + 1 >= end) {
          this.pos = i;
          this.syntax('bad escape');
        }
        out += ch;
        i += 1;
      }
      from = i + 1;
    }
    return out + this.text(from, end, false);
  }

  private text(start: number, end: number, ascii: boolean): string {
    if (ascii && end - start <= 256)
      return String.fromCharCode.apply(null, this.bytes.subarray(start, end) as never);
    try {
      return utf8.decode(this.bytes.subarray(start, end));
    } catch {
      this.pos = start;
      return this.syntax('a string is not valid UTF-8');
    }
  }

  /** A JSON number token (validated) as the double JSON.parse would give. */
  private number(): number {
    const b = this.bytes;
    const start = this.pos;
    let p = start;
    const negative = b[p] === MINUS;
    if (negative) p++;
    // value = (head · 10^tailDigits + tail) · 10^exponent: `head` holds the first 15 significant
    // digits (exact below 2^53), `tail` up to 4 more; beyond 19 the token goes to Number().
    let head = 0;
    let tail = 0;
    let significant = 0;
    let exponent = 0;
    if (b[p] === ZERO) {
      p++;
    } else if (isDigit(b[p])) {
      for (; isDigit(b[p]); p++) {
        if (significant < 15) head = head * 10 + (b[p] - ZERO);
        else if (significant < 19) tail = tail * 10 + (b[p] - ZERO);
        significant++;
      }
    } else {
      this.pos = p;
      this.syntax('bad number');
    }
    if (b[p] === DOT) {
      p++;
      if (!isDigit(b[p])) {
        this.pos = p;
        this.syntax('bad number');
      }
      for (; isDigit(b[p]); p++) {
        exponent--;
        if (significant === 0 && b[p] === ZERO) continue; // leading zeros are not significant
        if (significant < 15) head = head * 10 + (b[p] - ZERO);
        else if (significant < 19) tail = tail * 10 + (b[p] - ZERO);
        significant++;
      }
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      let sign = 1;
      if (b[p] === PLUS || b[p] === MINUS) sign = b[p++] === MINUS ? -1 : 1;
      if (!isDigit(b[p])) {
        this.pos = p;
        this.syntax('bad number');
      }
      let e = 0;
      while (isDigit(b[p])) {
        if (e < 100_000) e = e * 10 + (b[p] - ZERO);
        p++;
      }
      exponent += sign * e;
    }
    if (p - start > MAX_NUMBER_CHARS) {
      throw new InputError(400, `numbers in the body are limited to ${MAX_NUMBER_CHARS} characters`);
    }
    this.pos = p;
    let value = Number.NaN;
    if (significant <= 15 && exponent >= -22 && exponent <= 22) {
      // Clinger's fast path: an exact integer and an exact power of ten, one rounding.
      value = exponent < 0 ? head / POW10[-exponent] : head * POW10[exponent];
    } else if (significant <= 19 && exponent >= -22 && exponent <= 0) {
      value = exactQuotient(head, significant - 15, tail, -exponent);
    }
    if (Number.isNaN(value)) {
      value = Number(String.fromCharCode.apply(null, b.subarray(negative ? start + 1 : start, p) as never));
    }
    return negative ? -value : value;
  }

  /** The next value's first characters, for messages (`"NaN"`, `null`, `{…`). */
  private describe(): string {
    const c = this.bytes[this.pos];
    if (c === QUOTE) {
      const s = this.string();
      return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
    }
    if (c === OPEN_OBJECT) return 'an object';
    if (c === OPEN_ARRAY) return 'an array';
    for (const word of ['true', 'false', 'null']) if (this.literal(word)) return word;
    return c === undefined ? 'the end of the body' : `'${String.fromCharCode(c)}'`;
  }

  private isNumberStart(): boolean {
    const c = this.bytes[this.pos];
    return c === MINUS || isDigit(c);
  }

  /** `[[n, …], …]`: one inner array per image, all of one length, within the limits. */
  private rows(): TensorData {
    const { name, maxRows, maxRowLength } = this.spec;
    const store = new GrowingValues(maxRows * maxRowLength, this.bytes.length);
    const rows: number[] = [];
    this.pos++;
    this.space();
    if (this.bytes[this.pos] === CLOSE_ARRAY) {
      this.pos++;
      return new TensorData(store.values(), rows);
    }
    for (;;) {
      this.space();
      const r = rows.length;
      if (r >= maxRows) {
        throw new InputError(400, `a request holds 1 to ${maxRows} images, got more than ${maxRows}`);
      }
      if (this.bytes[this.pos] !== OPEN_ARRAY) {
        throw new InputError(400, `${name}[${r}] must be an array of numbers, got ${this.describe()}`);
      }
      this.pos++;
      this.space();
      let length = 0;
      if (this.bytes[this.pos] === CLOSE_ARRAY) {
        this.pos++;
      } else {
        for (;;) {
          this.space();
          if (length >= maxRowLength) {
            throw new InputError(
              400,
              `${name}[${r}] has more than ${maxRowLength} values; an image has ${maxRowLength} (raw 28×28) or 256 (preprocessed 16×16)`,
            );
          }
          if (!this.isNumberStart()) {
            throw new InputError(400, `${name}[${r}][${length}] is not a finite number: ${this.describe()}`);
          }
          store.push(this.number());
          length++;
          this.space();
          if (this.bytes[this.pos] === COMMA) {
            this.pos++;
            continue;
          }
          this.expect(CLOSE_ARRAY, "',' or ']'");
          break;
        }
      }
      if (r > 0 && length !== rows[0]) {
        throw new InputError(
          400,
          `${name}[${r}] has ${length} values, ${name}[0] has ${rows[0]}: all images must match`,
        );
      }
      rows.push(length);
      this.space();
      if (this.bytes[this.pos] === COMMA) {
        this.pos++;
        continue;
      }
      this.expect(CLOSE_ARRAY, "',' or ']'");
      return new TensorData(store.values(), rows);
    }
  }

  /** Numbers in arrays nested up to MAX_TENSOR_DEPTH deep, flattened; at most `maxValues`. */
  private nested(): TensorData {
    const store = new GrowingValues(this.spec.maxValues, this.bytes.length);
    this.nestedArray(store, 1);
    return new TensorData(store.values(), []);
  }

  private nestedArray(store: GrowingValues, depth: number): void {
    const { name, maxValues } = this.spec;
    if (depth > MAX_TENSOR_DEPTH) throw new InputError(400, `${name} is nested too deeply`);
    this.pos++;
    this.space();
    if (this.bytes[this.pos] === CLOSE_ARRAY) {
      this.pos++;
      return;
    }
    for (;;) {
      this.space();
      if (this.bytes[this.pos] === OPEN_ARRAY) {
        this.nestedArray(store, depth + 1);
      } else if (this.isNumberStart()) {
        if (store.length >= maxValues) {
          throw new InputError(
            400,
            `${name} holds more than ${maxValues} values, more than any valid request`,
          );
        }
        store.push(this.number());
      } else {
        throw new InputError(
          400,
          `${name}: value ${store.length} is not a finite number: ${this.describe()}`,
        );
      }
      this.space();
      if (this.bytes[this.pos] === COMMA) {
        this.pos++;
        continue;
      }
      this.expect(CLOSE_ARRAY, "',' or ']'");
      return;
    }
  }
}

/**
 * A Float64Array that doubles up to a fixed capacity. Its first allocation, at the first number
 * (an empty tensor allocates nothing), is what the body could hold (a number and its separator
 * take at least 2 bytes), so the usual request allocates it once.
 */
class GrowingValues {
  private buffer = new Float64Array(0);
  private readonly initial: number;
  length = 0;
  constructor(
    private readonly capacity: number,
    bodyBytes: number,
  ) {
    this.initial = Math.min(capacity, Math.ceil(bodyBytes / 2));
  }
  push(v: number): void {
    if (this.length === this.buffer.length) {
      const size = this.length === 0 ? this.initial : this.buffer.length * 2;
      const grown = new Float64Array(Math.min(this.capacity, Math.max(16, size)));
      grown.set(this.buffer);
      this.buffer = grown;
    }
    this.buffer[this.length++] = v;
  }
  values(): Float64Array {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Parse a JSON body. The value at `spec.path`, when it is an array, comes back as a TensorData
 * (also returned as `tensor`); everything else as `JSON.parse` would give it. Every problem is an
 * InputError(400).
 */
export function parseJsonBody(
  bytes: Uint8Array,
  spec: TensorSpec,
): { value: unknown; tensor: TensorData | null } {
  if (bytes.length === 0) throw new InputError(400, 'the request body is empty; expected JSON');
  const reader = new BodyReader(bytes, spec);
  const value = reader.document();
  return { value, tensor: reader.tensor };
}
