// A child process that calls the engine directly: the yardstick the service is measured against.
// Protocol (IPC): parent sends {pairs: [[pathA, pathB], ...], batch?: number}; child loads, warms up, replies
// {type:'ready'}; then either {type:'go'}, answered {type:'done', ms, pairs} after every pair, or
// {type:'one', i} for one pair at a time, answered {type:'one', ms}, until {type:'end'}.
import { readFile } from 'node:fs/promises';
import { FaceEngine } from '@facematch/engine';

interface Setup {
  pairs: [string, string][];
  batch?: number;
}

const setup = await new Promise<Setup>((resolve) => process.once('message', (m) => resolve(m as Setup)));
const engine = await FaceEngine.create({ backend: 'wasm', ...(setup.batch ? { batch: { size: setup.batch, windowMs: 5 } } : {}) });
const bytes = await Promise.all(setup.pairs.map(async ([a, b]) => [await readFile(a), await readFile(b)] as const));
await engine.verify(bytes[0]![0], bytes[0]![1]);
process.send!({ type: 'ready' });
const first = await new Promise<{ type: string; i?: number }>((resolve) => process.once('message', (m) => resolve(m as { type: string })));
if (first.type === 'one') {
  // One pair per message: the parent interleaves these with the same pairs through the service.
  const one = async (i: number) => {
    const [a, b] = bytes[i]!;
    const s = performance.now();
    await engine.verify(a, b).catch(() => undefined);
    process.send!({ type: 'one', ms: performance.now() - s });
  };
  process.on('message', (m: { type: string; i?: number }) => {
    if (m.type === 'one') void one(m.i!);
    else process.disconnect();
  });
  await one(first.i!);
} else {
  await runAll();
}

async function runAll(): Promise<void> {
  const t0 = performance.now();
  const lanes = setup.batch ?? 1;
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < bytes.length) {
        const [a, b] = bytes[next++]!;
        await engine.verify(a, b).catch(() => undefined);
      }
    }),
  );
  process.send!({ type: 'done', ms: performance.now() - t0, pairs: bytes.length });
  process.disconnect();
}
