/**
 * The serving variant of a published model: the same graph with its `shared_weight` input declared
 * [W, 1] instead of [1], so one `session.run` answers several weights at once (the image rows
 * tiled once per weight, one weight per row). The graph uses the weight only as `Mul(sum, w)` with
 * `sum` [rows, k] (src/onnx/export.ts), so a [rows, 1] weight broadcasts row by row and every row's
 * result is exactly the single-weight result. The published file is not changed.
 *
 * Only the declaration is rewritten: a small protobuf walk finds the graph's `shared_weight` input
 * (ModelProto.graph = field 7, GraphProto.input = field 11, ValueInfoProto.name = field 1) and
 * replaces it; every other byte is copied. Field numbers are onnx.proto's (src/onnx/onnx.proto);
 * the replacement is encoded here, so this Worker does not bundle protobufjs.
 */
const WEIGHT_INPUT = 'shared_weight';
const LENGTH_DELIMITED = 2;
const FLOAT = 1; // TensorProto.DataType.FLOAT

interface Field {
  number: number;
  wireType: number;
  /** Where the field starts (its tag) and ends; for length-delimited fields, where its payload starts. */
  start: number;
  payload: number;
  end: number;
}

function varint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    value += (bytes[i] & 0x7f) * scale;
    if (bytes[i] < 0x80) return [value, i + 1];
    scale *= 128;
  }
  throw new RangeError('truncated varint in the ONNX model');
}

function encodeVarint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

/** The fields of the message in bytes[from, to). */
function fields(bytes: Uint8Array, from: number, to: number): Field[] {
  const out: Field[] = [];
  let at = from;
  while (at < to) {
    const [tag, afterTag] = varint(bytes, at);
    const wireType = tag % 8;
    let payload = afterTag;
    let end: number;
    if (wireType === 0) end = varint(bytes, afterTag)[1];
    else if (wireType === 1) end = afterTag + 8;
    else if (wireType === 5) end = afterTag + 4;
    else if (wireType === LENGTH_DELIMITED) {
      const [length, next] = varint(bytes, afterTag);
      payload = next;
      end = next + length;
    } else throw new RangeError(`unsupported protobuf wire type ${wireType} in the ONNX model`);
    if (end > to) throw new RangeError('truncated field in the ONNX model');
    out.push({ number: Math.floor(tag / 8), wireType, start: at, payload, end });
    at = end;
  }
  return out;
}

function varintField(number: number, value: number): Uint8Array {
  return new Uint8Array([...encodeVarint(number * 8), ...encodeVarint(value)]);
}

function lengthDelimited(number: number, payload: Uint8Array): Uint8Array {
  const head = [...encodeVarint(number * 8 + LENGTH_DELIMITED), ...encodeVarint(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Whether the graph declares a `shared_weight` input. A model with trained per-connection weights
 * (src/onnx/export.ts `connectionWeights`) has none: it is served as it is, one run per request.
 */
export function hasSharedWeightInput(model: Uint8Array): boolean {
  const decoder = new TextDecoder();
  const graph = fields(model, 0, model.length).find((f) => f.number === 7 && f.wireType === LENGTH_DELIMITED);
  if (!graph) throw new RangeError('the ONNX model has no graph');
  return fields(model, graph.payload, graph.end).some((f) => {
    if (f.number !== 11 || f.wireType !== LENGTH_DELIMITED) return false;
    const name = fields(model, f.payload, f.end).find((g) => g.number === 1);
    return name !== undefined && decoder.decode(model.subarray(name.payload, name.end)) === WEIGHT_INPUT;
  });
}

/** `model` with `shared_weight` declared float32 [W, 1]; throws if the model has no such input. */
export function batchedWeightModel(model: Uint8Array): Uint8Array {
  const decoder = new TextDecoder();
  const top = fields(model, 0, model.length);
  const graph = top.find((f) => f.number === 7 && f.wireType === LENGTH_DELIMITED);
  if (!graph) throw new RangeError('the ONNX model has no graph');
  const graphFields = fields(model, graph.payload, graph.end);
  const input = graphFields.find((f) => {
    if (f.number !== 11 || f.wireType !== LENGTH_DELIMITED) return false;
    const name = fields(model, f.payload, f.end).find((g) => g.number === 1);
    return name !== undefined && decoder.decode(model.subarray(name.payload, name.end)) === WEIGHT_INPUT;
  });
  if (!input) throw new RangeError(`the ONNX model has no ${WEIGHT_INPUT} input`);
  const encoder = new TextEncoder();
  // ValueInfoProto { name, type: TypeProto { tensor_type: { elem_type: FLOAT, shape: [W, 1] } } }
  const shape = concat([
    lengthDelimited(1, lengthDelimited(2, encoder.encode('W'))), // dim { dim_param: "W" }
    lengthDelimited(1, varintField(1, 1)), // dim { dim_value: 1 }
  ]);
  const tensorType = concat([varintField(1, FLOAT), lengthDelimited(2, shape)]);
  const declaration = concat([
    lengthDelimited(1, encoder.encode(WEIGHT_INPUT)),
    lengthDelimited(2, lengthDelimited(1, tensorType)),
  ]);
  const newGraph = concat(
    graphFields.map((f) => (f === input ? lengthDelimited(11, declaration) : model.subarray(f.start, f.end))),
  );
  return concat(
    top.map((f) => (f === graph ? lengthDelimited(7, newGraph) : model.subarray(f.start, f.end))),
  );
}
