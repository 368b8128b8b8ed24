import { describe, expect, it } from 'vitest';
import { InputError } from '../../workers/inference/input-error';
import {
  MAX_OTHER_VALUES,
  parseJsonBody,
  TensorData,
  type TensorSpec,
} from '../../workers/inference/json-body';

const ROWS: TensorSpec = {
  path: ['pixels'],
  name: 'pixels',
  layout: 'rows',
  maxValues: 0,
  maxRows: 4,
  maxRowLength: 6,
};
const NESTED: TensorSpec = {
  path: ['inputs', 0, 'data'],
  name: 'inputs[0].data',
  layout: 'nested',
  maxValues: 8,
  maxRows: 0,
  maxRowLength: 0,
};
const bytes = (text: string) => new TextEncoder().encode(text);
const parse = (text: string, spec: TensorSpec = ROWS) => parseJsonBody(bytes(text), spec);

function failure(text: string, spec: TensorSpec = ROWS): InputError {
  try {
    parse(text, spec);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error(`parsed: ${text}`);
}

describe('parseJsonBody: everything but the tensor is what JSON.parse gives', () => {
  it.each([
    '{}',
    '[]',
    '"x"',
    '0',
    '-0',
    'true',
    'null',
    ' {"a": [1, 2.5e3, -0.125, {"b": null}], "c": "d\\"e\\\\f\\/g\\b\\f\\n\\r\\t", "u": "\\u00e9\\uD83D\\uDE00 é 😀 中"} ',
    '{"__proto__": {"polluted": 1}, "k": 1}',
    '{"deep": [[[[[[[[[[[[1]]]]]]]]]]]]}',
    '\ufeff{"bom": true}',
  ])('%s', (text) => {
    const { value, tensor } = parse(text);
    expect(tensor).toBeNull();
    expect(value).toStrictEqual(JSON.parse(text.replace(/^\ufeff/, '')));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('numbers are the doubles JSON.parse gives (fast path and fallback), bit for bit', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const texts: string[] = [
      '0',
      '1',
      '0.5',
      '1e-7',
      '1E+2',
      '123456789012345678901234567890',
      '9007199254740993',
    ];
    for (let i = 0; i < 20_000; i++) {
      const x = random() * 10 ** Math.floor(random() * 40 - 20);
      texts.push(String(x), x.toFixed(Math.floor(random() * 20)), x.toExponential(Math.floor(random() * 20)));
      texts.push(String(Math.fround(x)), String(Math.round(random() * 255) / 255), x.toPrecision(17));
    }
    const doc = `[${texts.join(',')}]`;
    const { tensor } = parseJsonBody(bytes(`{"inputs": [{"data": ${doc}}]}`), {
      ...NESTED,
      maxValues: texts.length,
    });
    expect(Array.from(tensor!.values)).toStrictEqual(JSON.parse(doc));
    // 16 to 19 significant digits (the double-double quotient), e.g. pixel / 255 as JavaScript prints it.
    const long: string[] = Array.from({ length: 256 }, (_, p) => String(p / 255));
    for (let i = 0; i < 100_000; i++) {
      let digits = String(1 + Math.floor(random() * 9));
      const count = 16 + Math.floor(random() * 4);
      while (digits.length < count) digits += String(Math.floor(random() * 10));
      const point = Math.floor(random() * 4);
      long.push(
        `${random() < 0.1 ? '-' : ''}${point ? `${digits.slice(0, point)}.${digits.slice(point)}` : `0.${'0'.repeat(Math.floor(random() * 4))}${digits}`}`,
      );
    }
    const longDoc = `[${long.join(',')}]`;
    const longTensor = parseJsonBody(bytes(`{"inputs": [{"data": ${longDoc}}]}`), {
      ...NESTED,
      maxValues: long.length,
    });
    expect(Array.from(longTensor.tensor!.values)).toStrictEqual(JSON.parse(longDoc));
    expect(parse(`{"few": [${texts.slice(0, 4000).join(',')}]}`).value).toStrictEqual(
      JSON.parse(`{"few": [${texts.slice(0, 4000).join(',')}]}`),
    );
  });
});

describe('the tensor', () => {
  it('rows: one inner array per image into one Float64Array, row lengths kept', () => {
    const { value, tensor } = parse('{"pixels": [[0, 0.5, 1], [1e-3, 2.5E-1, 0]], "top_k": 2}');
    expect(tensor).toBeInstanceOf(TensorData);
    expect(Array.from(tensor!.values)).toEqual([0, 0.5, 1, 0.001, 0.25, 0]);
    expect(tensor!.rows).toEqual([3, 3]);
    expect(value).toEqual({ pixels: tensor, top_k: 2 });
  });

  it('nested: numbers at any depth (up to 8), flattened; only at inputs[0].data', () => {
    const { value, tensor } = parse(
      '{"inputs": [{"data": [[1, 2], [[3]], 4]}, {"data": [9]}], "data": [7]}',
      NESTED,
    );
    expect(Array.from(tensor!.values)).toEqual([1, 2, 3, 4]);
    expect((value as { data: unknown }).data).toEqual([7]);
    expect((value as { inputs: { data: unknown }[] }).inputs[1].data).toEqual([9]);
  });

  it('a non-array at the tensor path stays an ordinary value', () => {
    expect(parse('{"pixels": "no"}')).toEqual({ value: { pixels: 'no' }, tensor: null });
  });

  it.each<[string, string, TensorSpec, RegExp]>([
    ['too many rows', `{"pixels": [${'[0],'.repeat(4)}[0]]}`, ROWS, /1 to 4 images, got more than 4/],
    ['a row too long', '{"pixels": [[0,0,0,0,0,0,0]]}', ROWS, /pixels\[0\] has more than 6 values/],
    ['ragged rows', '{"pixels": [[0,0],[0]]}', ROWS, /pixels\[1\] has 1 values, pixels\[0\] has 2/],
    ['a number where a row belongs', '{"pixels": [0]}', ROWS, /pixels\[0\] must be an array/],
    ['a string pixel', '{"pixels": [["NaN"]]}', ROWS, /pixels\[0\]\[0\] is not a finite number: "NaN"/],
    ['null pixel', '{"pixels": [[null]]}', ROWS, /not a finite number: null/],
    ['too many values', '{"inputs": [{"data": [[1,2,3],[4,5,6],[7,8,9]]}]}', NESTED, /more than 8 values/],
    ['nested too deeply', '{"inputs": [{"data": [[[[[[[[[1]]]]]]]]]}]}', NESTED, /nested too deeply/],
    [
      'an object in data',
      '{"inputs": [{"data": [1, {}]}]}',
      NESTED,
      /value 1 is not a finite number: an object/,
    ],
    ['truncated', '{"pixels": [[0, 1', ROWS, /not valid JSON/],
    ['trailing comma', '{"a": [1,]}', ROWS, /not valid JSON/],
    ['NaN literal', '{"a": NaN}', ROWS, /not valid JSON/],
    ['leading zero', '[01]', ROWS, /not valid JSON/],
    ['bad escape', '"\\x"', ROWS, /not valid JSON/],
    ['control character', '"a\nb"', ROWS, /not valid JSON/],
    ['data after the value', '{} {}', ROWS, /not valid JSON/],
    ['a huge number token', `[1${'0'.repeat(600)}]`, ROWS, /numbers in the body are limited/],
    ['too many other values', `{"x": [${'0,'.repeat(MAX_OTHER_VALUES)}0]}`, ROWS, /besides pixels/],
    [
      'keys count as values',
      `{${Array.from({ length: MAX_OTHER_VALUES / 2 + 1 }, (_, i) => `"k${i}":0`)}}`,
      ROWS,
      /more than 4096 values besides pixels/,
    ],
    ['a repeated key', '{"k": 1, "k": 2}', ROWS, /the key "k" appears twice in one object/],
    ['a repeated key, before its value is read', '{"k": 1, "k": ', ROWS, /the key "k" appears twice/],
    ['a repeated "__proto__"', '{"__proto__": 1, "__proto__": 2}', ROWS, /the key "__proto__" appears twice/],
    [
      'the tensor key repeated',
      `{${'"pixels":[],'.repeat(1000)}"pixels":[]}`,
      ROWS,
      /the key "pixels" appears twice in one object/,
    ],
    [
      'the tensor key repeated in inputs[0]',
      `{"inputs":[{${'"data":[],'.repeat(1000)}"data":[]}]}`,
      NESTED,
      /the key "data" appears twice in one object/,
    ],
    [
      'a repeated key, shown shortened',
      `{"${'k'.repeat(100)}":1,"${'k'.repeat(100)}":2}`,
      ROWS,
      /"k{40}…" appears twice/,
    ],
    ['too deep elsewhere', `${'['.repeat(40)}${']'.repeat(40)}`, ROWS, /nested deeper/],
  ])('%s → 400', (_name, text, spec, message) => {
    const e = failure(text, spec);
    expect(e.status).toBe(400);
    expect(e.message).toMatch(message);
  });

  it('invalid UTF-8 in a string is refused; an empty body too', () => {
    const bad = new Uint8Array([0x22, 0xc3, 0x28, 0x22]);
    expect(() => parseJsonBody(bad, ROWS)).toThrow(/UTF-8/);
    expect(() => parseJsonBody(new Uint8Array(0), ROWS)).toThrow(/empty/);
  });
});
