import type * as TF from '@tensorflow/tfjs';

/** Multiply-accumulates of one kernel call, from the shapes tf.profile records. Other kernels are noise. */
function macs(k: { name: string; inputShapes: number[][]; outputShapes: number[][] }): number {
  const prod = (s: number[] | undefined) => (s ?? []).reduce((a, b) => a * b, 1);
  const out = prod(k.outputShapes[0]);
  const filter = k.inputShapes[1] ?? [];
  switch (k.name) {
    case 'Conv2D':
    case 'FusedConv2D':
      return out * (filter[0] ?? 0) * (filter[1] ?? 0) * (filter[2] ?? 0); // [fh, fw, in, out]
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2D':
      return out * (filter[0] ?? 0) * (filter[1] ?? 0);
    case 'MatMul':
    case '_FusedMatMul':
    case 'BatchMatMul':
      // [M,K] x [K,N] -> [M,N]: the shared K is sqrt(|a| |b| / |out|), whichever side is transposed.
      return out * Math.sqrt((prod(k.inputShapes[0]) * prod(k.inputShapes[1])) / Math.max(1, out));
    default:
      return 0;
  }
}

/** FLOPs (2 per multiply-accumulate) of everything `fn` runs, counted from the kernels tfjs executes. */
export async function countFlops(tf: typeof TF, fn: () => Promise<unknown>): Promise<number> {
  const info = await tf.profile(async () => {
    await fn();
    return [] as unknown as TF.TensorContainer;
  });
  return info.kernels.reduce((sum, k) => sum + 2 * macs(k as never), 0);
}
