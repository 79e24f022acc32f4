// Preloaded into the memory phase's worker only (NODE_OPTIONS=--import, set by main.ts), so the bench can
// read that process's memory between jobs without the worker knowing of it. Over the worker's IPC channel
// it answers {type:'bench-memory'} with process.memoryUsage(), after a full garbage collection: what
// survives one is what a leak would grow (ArrayBuffers of released onnx outputs or tensors are freed only
// when collected). Plain JavaScript: it loads before tsx does.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
process.on('message', (m) => {
  if (m?.type !== 'bench-memory') return;
  gc();
  process.send?.({ type: 'bench-memory', ...process.memoryUsage() });
});
// The listener must not keep the worker alive once it has stopped.
process.channel?.unref();
