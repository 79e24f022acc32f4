// A minimal, deterministic protobuf writer for the parts of onnx.proto the converter emits
// (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto). Hand-written
// rather than generated: the subset is small, and the bytes must depend only on the graph, so that
// a graph's sha256 can be pinned in the manifest. Field numbers are onnx.proto's (IR version 8).

const enc = new TextEncoder();

/** Growable byte sink with protobuf's wire encodings. */
class Writer {
  constructor() {
    this.chunks = [];
    this.length = 0;
  }
  bytes(b) {
    this.chunks.push(b);
    this.length += b.length;
  }
  varint(v) {
    // BigInt keeps 64-bit values (negative int64 is ten bytes of two's complement) exact.
    let n = BigInt.asUintN(64, BigInt(v));
    const out = [];
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n !== 0n) byte |= 0x80;
      out.push(byte);
    } while (n !== 0n);
    this.bytes(Uint8Array.from(out));
  }
  tag(field, wire) {
    this.varint((field << 3) | wire);
  }
  int(field, v) {
    this.tag(field, 0);
    this.varint(v);
  }
  float(field, v) {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.bytes(b);
  }
  lenDelimited(field, b) {
    this.tag(field, 2);
    this.varint(b.length);
    this.bytes(b);
  }
  string(field, s) {
    this.lenDelimited(field, enc.encode(s));
  }
  message(field, fn) {
    const w = new Writer();
    fn(w);
    this.lenDelimited(field, w.finish());
  }
  finish() {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 };
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 };

/** TensorProto: dims, data_type, name, raw_data (little-endian, as ONNX requires). */
function tensor(w, t) {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  const raw = t.data instanceof BigInt64Array ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) : new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  w.lenDelimited(9, raw);
}

function attribute(w, name, value) {
  w.string(1, name);
  if (typeof value === 'number' && Number.isInteger(value)) {
    w.int(3, value);
    w.int(20, AttrType.INT);
  } else if (typeof value === 'number') {
    w.float(2, value);
    w.int(20, AttrType.FLOAT);
  } else if (typeof value === 'string') {
    w.string(4, value);
    w.int(20, AttrType.STRING);
  } else if (Array.isArray(value) && value.every((v) => Number.isInteger(v))) {
    for (const v of value) w.int(8, v);
    w.int(20, AttrType.INTS);
  } else if (Array.isArray(value)) {
    for (const v of value) w.float(7, v);
    w.int(20, AttrType.FLOATS);
  } else if (value && value.kind === 'float') {
    // A float attribute whose value happens to be integral (alpha: 1, say).
    w.float(2, value.value);
    w.int(20, AttrType.FLOAT);
  } else if (value && value.kind === 'tensor') {
    w.message(5, (t) => tensor(t, value.tensor));
    w.int(20, AttrType.TENSOR);
  } else {
    throw new Error(`onnx: unsupported attribute ${name}`);
  }
}

function valueInfo(w, v) {
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tt) => {
      tt.int(1, v.dataType ?? DataType.FLOAT);
      tt.message(2, (shape) => {
        for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.int(1, d)));
      });
    }),
  );
}

/**
 * Serialises a model. Attribute order is the order of the keys given, nodes the order added: the
 * same graph gives the same bytes.
 * @param {{name: string, opset: number, producer: string, docString?: string, inputs: object[], outputs: object[], initializers: object[], nodes: object[], metadata?: Record<string,string>}} m
 */
export function encodeModel(m) {
  const w = new Writer();
  w.int(1, 8); // ir_version
  w.string(2, m.producer);
  w.string(3, '1');
  if (m.docString) w.string(6, m.docString);
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(3, n.name);
        nw.string(4, n.op);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (a) => attribute(a, k, v));
      });
    }
    g.string(2, m.name);
    for (const t of m.initializers) g.message(5, (tw) => tensor(tw, t));
    for (const v of m.inputs) g.message(11, (vw) => valueInfo(vw, v));
    for (const v of m.outputs) g.message(12, (vw) => valueInfo(vw, v));
  });
  w.message(8, (o) => {
    o.string(1, '');
    o.int(2, m.opset);
  });
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    w.message(14, (p) => {
      p.string(1, k);
      p.string(2, v);
    });
  }
  return w.finish();
}
