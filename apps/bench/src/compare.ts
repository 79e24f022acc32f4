// A child process for the engine comparison, so it can run beside the memory phase without blocking the
// event loop that drives that phase's requests. Protocol (IPC): the parent sends {pairs}; the child
// answers {backend, engine, flops} and exits.
import { evaluate, type LabelledPair } from '@facematch/cli';
import { FaceEngine, gflopsPerPass } from '@facematch/engine';
import { compareRuntimes } from './runtimes.ts';

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;
const { pairs } = await new Promise<{ pairs: LabelledPair[] }>((resolve) => process.once('message', (m) => resolve(m as { pairs: LabelledPair[] })));
// face-api's demo pipeline (the yardstick) runs on tfjs, so the comparison with it stays on WASM. The
// onnx engine lives beside it in this process: one tfjs backend and onnxruntime can coexist.
const engine = await FaceEngine.create({ backend: 'wasm' });
const onnx = await FaceEngine.create({ backend: 'onnx' });
// Ours against face-api's demo pipeline, interleaved per image in this one process and backend.
const ev = await evaluate(engine, pairs, { reference: true });
// Ours on WASM against ours on onnx, interleaved per image, on the same pairs and decision rule.
const rt = await compareRuntimes(engine, onnx, pairs);
// The work per forward pass, counted from the kernels tfjs runs: the basis of the paper GPU estimate.
// A typical pair takes, per image, one tiny-detector pass at 224, landmarks and the recognition net on
// the chip; pairs near the threshold (about one in seven) add the recognition net on both mirrors.
const gflops = await gflopsPerPass(engine);
const figures = (f: { msPerImage: number; accuracy: number }) => ({ msPerImage: round(f.msPerImage, 1), accuracy: round(f.accuracy, 4) });
process.send!(
  {
    backend: engine.backend,
    engine: {
      pairs: ev.pairs,
      images: ev.images,
      referenceMsPerImage: round(ev.reference!.msPerImage, 1),
      oursMsPerImage: round(ev.msPerImage, 1),
      speedup: round(ev.reference!.msPerImage / ev.msPerImage),
      referenceAccuracy: round(ev.reference!.accuracy, 4),
      oursAccuracy: round(ev.accuracy, 4),
      runtimes: {
        wasm: figures(rt.wasm),
        onnx: figures(rt.onnx),
        // wasm / onnx time per image (how many times faster onnx is), and its inverse (the target's terms).
        speedup: round(rt.wasm.msPerImage / rt.onnx.msPerImage),
        ratio: round(rt.onnx.msPerImage / rt.wasm.msPerImage, 3),
        differingDecisions: rt.differingDecisions,
        allocations: rt.allocations,
      },
    },
    flops: { ...gflops, typicalPairGflops: round(2 * (gflops.tiny224 + gflops.landmarks112 + gflops.recognition150), 3), mirrorPassGflops: round(2 * gflops.recognition150, 3) },
  },
  () => process.disconnect(),
);
