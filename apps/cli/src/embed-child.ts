// One engine in a child process of `embedAll`: receives image paths, answers their embeddings.
import { readFile } from 'node:fs/promises';
import { FaceEngine, type EngineOptions } from '@facematch/engine';
import { embedOne, toWire } from './embeddings.ts';

let engine: FaceEngine | undefined;
process.on('message', (msg: { type: 'init'; engine: EngineOptions } | { type: 'embed'; path: string; key: string } | { type: 'exit' }) => {
  void (async () => {
    try {
      if (msg.type === 'init') {
        engine = await FaceEngine.create({ ...msg.engine, calibration: false });
        process.send!({ type: 'ready' });
      } else if (msg.type === 'embed') {
        process.send!({ type: 'done', wire: toWire(await embedOne(engine!, msg.key, await readFile(msg.path))) });
      } else if (process.connected) {
        process.disconnect();
      }
    } catch (err) {
      if (process.connected) process.send!({ type: 'error', message: (err as Error).stack ?? String(err) });
      else throw err;
    }
  })();
});
