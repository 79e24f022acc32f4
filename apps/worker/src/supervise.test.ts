import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@facematch/logger';
import { Supervisor, TSX_IMPORT } from './supervise.ts';

const dir = mkdtempSync(join(tmpdir(), 'facematch-supervise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Supervisor', () => {
  it('restarts a child that dies, and stops them all on request', async () => {
    // The first run of the child crashes at once; later runs stay up until told to stop.
    const marker = join(dir, 'crashed');
    const script = join(dir, 'child.mjs');
    writeFileSync(
      script,
      `import { existsSync, writeFileSync } from 'node:fs';
       if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, ''); process.exit(3); }
       setInterval(() => {}, 1000);
       process.on('SIGTERM', () => process.exit(0));`,
    );
    const pids: (number | undefined)[] = [];
    let secondSpawn: () => void = () => {};
    const respawned = new Promise<void>((r) => (secondSpawn = r));
    const sup = new Supervisor(
      { name: 'child', script, count: 1, onSpawn: (_slot, pid) => (pids.push(pid), pids.length === 2 && secondSpawn()) },
      createLogger({ name: 'test', level: 'silent' }),
    );
    sup.start();
    await respawned;
    expect(pids).toHaveLength(2);
    expect(pids[0]).not.toBe(pids[1]);
    expect(sup.pids()).toEqual([pids[1]]);
    await sup.stop('SIGTERM');
    expect(sup.pids()).toEqual([]);
  });

  it('keeps its own process alive while a restart waits out its backoff', async () => {
    // Nothing else holds the helper's event loop: if the restart timer does not, it exits with no child.
    const child = join(dir, 'dies.mjs');
    writeFileSync(child, 'process.exit(3);');
    const helper = join(dir, 'supervisor.mjs');
    writeFileSync(
      helper,
      `import { Supervisor } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'supervise.ts')).href)};
       const log = { warn() {}, info() {} };
       const sup = new Supervisor({ name: 'child', script: ${JSON.stringify(child)}, count: 1, onSpawn: () => console.log('spawn') }, log);
       sup.start();
       process.on('SIGTERM', () => void sup.stop().then(() => process.exit(0)));`,
    );
    const proc = spawn(process.execPath, ['--import', TSX_IMPORT, helper], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    let spawns = 0;
    const respawned = new Promise<void>((r) => proc.stdout.on('data', (b: Buffer) => (spawns += b.toString().split('\n').filter((l) => l === 'spawn').length) >= 2 && r()));
    const first = await Promise.race([respawned.then(() => 'respawned'), exited.then((code) => `supervisor exited with ${code}`)]);
    expect(first).toBe('respawned');
    expect(proc.exitCode).toBeNull();
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 20_000);

  it('does not restart anything once stopped, even a restart already pending', async () => {
    const script = join(dir, 'quick-death.mjs');
    writeFileSync(script, 'process.exit(3);');
    let spawns = 0;
    const sup = new Supervisor({ name: 'child', script, count: 1, onSpawn: () => spawns++ }, createLogger({ name: 'test', level: 'silent' }));
    sup.start();
    // The child is gone from pids() once its exit is handled, which is when its restart (1 s backoff) is set.
    while (sup.pids().length > 0) await new Promise((r) => setTimeout(r, 20)); // a poll interval, not synchronisation
    await sup.stop();
    await new Promise((r) => setTimeout(r, 1500)); // past the backoff
    expect(spawns).toBe(1);
    expect(sup.pids()).toEqual([]);
  });
});
