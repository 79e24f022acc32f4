/**
 * A faster Concat for the WASM backend. tfjs-backend-wasm 4.22 concatenates in JS with one
 * `subarray().set()` per row and input; face-api's `normalize` concatenates three one-channel planes
 * on the last axis, so a 224² input makes 150,000 such calls. Profiled (tf.profile): that one Concat
 * was 22 of the tiny detector's 40 ms, and 5 of the landmark net's 18. Short rows are copied with a
 * plain loop instead; the result is the same bytes (tested against the stock kernel).
 */
import type * as TF from '@tensorflow/tfjs';

type KernelFunc = TF.KernelConfig['kernelFunc'];

interface WasmBackend {
  makeOutput(shape: number[], dtype: TF.DataType): TF.TensorInfo;
  typedArrayFromHeap(t: TF.TensorInfo): TF.TypedArray;
}

/** Rows shorter than this are copied element by element; longer ones with one `set`. */
const SHORT_ROW = 64;

export interface KernelPatch {
  /** Runs `fn` on the stock kernels, for the reference pipeline; safe only while nothing else runs. */
  stock<T>(fn: () => Promise<T>): Promise<T>;
}

export function patchWasmConcat(tf: typeof TF): KernelPatch {
  const original = tf.getKernel('Concat', 'wasm');
  if (!original) throw new Error('tfjs-backend-wasm has no Concat kernel to patch');
  const stockFunc = original.kernelFunc;
  let enabled = true;
  const fast: KernelFunc = (args) => {
    const inputs = args.inputs as unknown as TF.TensorInfo[];
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0]!.shape)[0]!;
    const present = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
    // Strings, single inputs and empty outputs keep the stock path, which handles them specially.
    if (!enabled || present.length < 2 || present[0]!.dtype === 'string') return stockFunc(args);
    const backend = args.backend as unknown as WasmBackend;
    const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), axis);
    tf.backend_util.assertParamsConsistent(inputs.map((t) => t.shape), axis);
    const out = backend.makeOutput(outShape, inputs[0]!.dtype);
    const outVals = backend.typedArrayFromHeap(out);
    const rows = tf.util.sizeFromShape(present[0]!.shape.slice(0, axis));
    const inner = present.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
    const width = inner.reduce((s, n) => s + n, 0);
    // Read every input only after makeOutput: growing the WASM heap detaches earlier views.
    const ins = present.map((t) => backend.typedArrayFromHeap(t));
    let col = 0;
    for (let i = 0; i < ins.length; i++) {
      const vals = ins[i]!;
      const n = inner[i]!;
      if (n < SHORT_ROW) {
        for (let r = 0; r < rows; r++) {
          const src = r * n;
          const dst = r * width + col;
          for (let k = 0; k < n; k++) outVals[dst + k] = vals[src + k]!;
        }
      } else {
        for (let r = 0; r < rows; r++) outVals.set(vals.subarray(r * n, r * n + n), r * width + col);
      }
      col += n;
    }
    return out;
  };
  tf.unregisterKernel('Concat', 'wasm');
  tf.registerKernel({ ...original, kernelFunc: fast });
  return {
    async stock(fn) {
      enabled = false;
      try {
        return await fn();
      } finally {
        enabled = true;
      }
    },
  };
}
