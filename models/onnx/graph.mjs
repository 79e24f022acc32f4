// Graph building blocks shared by the four converters: a builder that names values
// deterministically, face-api's weight decoding, and tfjs-layout to ONNX-layout conversions.
import { DataType, encodeModel } from './proto.mjs';

export const OPSET = 13;

/** Builds one ONNX graph; values are named `<prefix>_<n>` in the order they are made. */
export class Graph {
  constructor(name, docString) {
    this.name = name;
    this.docString = docString;
    this.inputs = [];
    this.outputs = [];
    this.initializers = [];
    this.nodes = [];
    this.count = 0;
    this.constants = new Map();
  }
  input(name, dims) {
    this.inputs.push({ name, dims });
    return name;
  }
  output(value, name, dims) {
    // Outputs get stable public names through an Identity node.
    this.nodes.push({ op: 'Identity', name: `out_${name}`, inputs: [value], outputs: [name] });
    this.outputs.push({ name, dims });
    return name;
  }
  /** A float32 initializer (weights) named after its face-api weight. */
  init(name, data, dims) {
    const f = data instanceof Float32Array ? data : Float32Array.from(data);
    if (f.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`onnx: ${name} has ${f.length} values for dims ${dims}`);
    this.initializers.push({ name, dims, dataType: DataType.FLOAT, data: f });
    return name;
  }
  /** An int64 initializer (shapes, axes), shared by value. */
  ints(values) {
    const key = `i64:${values.join(',')}`;
    if (!this.constants.has(key)) {
      const name = `const_i64_${this.constants.size}`;
      this.initializers.push({ name, dims: [values.length], dataType: DataType.INT64, data: BigInt64Array.from(values.map(BigInt)) });
      this.constants.set(key, name);
    }
    return this.constants.get(key);
  }
  /** A float32 constant, shared by value. */
  floats(values, dims = [values.length]) {
    const key = `f32:${dims.join('x')}:${Array.from(values).join(',')}`;
    if (!this.constants.has(key)) {
      const name = `const_f32_${this.constants.size}`;
      this.init(name, Float32Array.from(values), dims);
      this.constants.set(key, name);
    }
    return this.constants.get(key);
  }
  /** Adds a node and returns its (first) output; `outputs` > 1 returns them all. */
  node(op, inputs, attrs = {}, outputs = 1) {
    const names = Array.from({ length: outputs }, () => `${op.toLowerCase()}_${this.count++}`);
    this.nodes.push({ op, name: names[0], inputs, outputs: names, attrs });
    return outputs === 1 ? names[0] : names;
  }
  toBytes(metadata) {
    return encodeModel({ name: this.name, opset: OPSET, producer: 'facematch-models', docString: this.docString, inputs: this.inputs, outputs: this.outputs, initializers: this.initializers, nodes: this.nodes, metadata });
  }
}

/**
 * Decodes a face-api weights manifest and its shards exactly as tfjs's io.decodeWeights does
 * (uint8/uint16 affine dequantisation computed in double, stored as float32), so both runtimes
 * start from the same numbers.
 * @returns {Map<string, {shape: number[], dtype: string, data: Float32Array|Int32Array}>}
 */
export function decodeWeights(manifestJson, shard) {
  const groups = JSON.parse(manifestJson);
  const out = new Map();
  for (const g of groups) {
    const bytes = Buffer.concat(g.paths.map((p) => shard(p)));
    let offset = 0;
    for (const w of g.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      const itemBytes = q ? (q.dtype === 'uint8' ? 1 : 2) : 4;
      const view = bytes.subarray(offset, offset + n * itemBytes);
      offset += n * itemBytes;
      const data = w.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
      if (q) {
        if (q.dtype !== 'uint8' && q.dtype !== 'uint16') throw new Error(`onnx: ${w.name}: quantization ${q.dtype} not supported`);
        const raw = q.dtype === 'uint8' ? view : new Uint16Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
        for (let i = 0; i < n; i++) data[i] = raw[i] * q.scale + q.min;
      } else {
        if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`onnx: ${w.name}: dtype ${w.dtype} not supported`);
        const src = w.dtype === 'int32' ? new Int32Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength)) : new Float32Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
        data.set(src);
      }
      out.set(w.name, { shape: w.shape, dtype: w.dtype, data });
    }
  }
  return out;
}

/** Looks a weight up, failing loudly on a renamed or missing one. */
export function weight(map, name) {
  const w = map.get(name);
  if (!w) throw new Error(`onnx: weight ${name} not in the face-api weights`);
  return w;
}

/** tfjs conv filter [kh, kw, in, out] to ONNX [out, in, kh, kw]. */
export function convFilter(w) {
  const [kh, kw, cin, cout] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * cout + o];
  return { data: out, dims: [cout, cin, kh, kw] };
}

/** tfjs depthwise filter [kh, kw, in, multiplier] to ONNX grouped conv [in*multiplier, 1, kh, kw]. */
export function depthwiseFilter(w) {
  const [kh, kw, cin, mult] = w.shape;
  const out = new Float32Array(w.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < mult; m++) out[((i * mult + m) * kh + y) * kw + x] = w.data[((y * kw + x) * cin + i) * mult + m];
  return { data: out, dims: [cin * mult, 1, kh, kw], groups: cin };
}

/**
 * Explicit pads for TF's padding on a known input size (ONNX order: [top, left, bottom, right]).
 * TF's SAME puts the odd pixel at the bottom and right, which is ONNX's SAME_UPPER; explicit pads
 * keep the graph free of auto_pad, which some execution providers treat differently.
 */
export function tfPads(padding, inH, inW, kh, kw, stride) {
  if (padding === 'valid') return [0, 0, 0, 0];
  const pad = (n, k) => Math.max((Math.ceil(n / stride) - 1) * stride + k - n, 0);
  const ph = pad(inH, kh);
  const pw = pad(inW, kw);
  return [Math.floor(ph / 2), Math.floor(pw / 2), ph - Math.floor(ph / 2), pw - Math.floor(pw / 2)];
}

/** Output side of a TF conv or pool. */
export function tfOut(padding, n, k, stride) {
  return padding === 'valid' ? Math.floor((n - k) / stride) + 1 : Math.ceil(n / stride);
}

/**
 * A tfjs conv2d (NHWC semantics) on an NCHW value, with optional bias. `size` is the input's
 * [h, w]; returns the output value and its [h, w].
 */
export function conv2d(g, x, size, filterWeight, filterName, bias, { stride = 1, padding = 'same' } = {}) {
  const f = convFilter(filterWeight);
  const [, , kh, kw] = f.dims;
  const inputs = [x, g.init(filterName, f.data, f.dims)];
  if (bias) inputs.push(g.init(bias.name, bias.data, [bias.data.length]));
  const y = g.node('Conv', inputs, { kernel_shape: [kh, kw], strides: [stride, stride], pads: tfPads(padding, size[0], size[1], kh, kw, stride) });
  return [y, [tfOut(padding, size[0], kh, stride), tfOut(padding, size[1], kw, stride)]];
}

/** A tfjs depthwiseConv2d on an NCHW value, with optional bias. */
export function depthwiseConv2d(g, x, size, filterWeight, filterName, bias, { stride = 1, padding = 'same' } = {}) {
  const f = depthwiseFilter(filterWeight);
  const [, , kh, kw] = f.dims;
  const inputs = [x, g.init(filterName, f.data, f.dims)];
  if (bias) inputs.push(g.init(bias.name, bias.data, [bias.data.length]));
  const y = g.node('Conv', inputs, { group: f.groups, kernel_shape: [kh, kw], strides: [stride, stride], pads: tfPads(padding, size[0], size[1], kh, kw, stride) });
  return [y, [tfOut(padding, size[0], kh, stride), tfOut(padding, size[1], kw, stride)]];
}

/** A per-channel vector as an NCHW-broadcastable [C, 1, 1] initializer. */
export function channelVector(g, name, data) {
  return g.init(name, data, [data.length, 1, 1]);
}

/** NHWC input to NCHW. */
export function toNCHW(g, x) {
  return g.node('Transpose', [x], { perm: [0, 3, 1, 2] });
}
