import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Supervisor, TSX_IMPORT, forkScript, type RestartPolicy } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'facematch-supervise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = { info() {}, warn() {}, error() {} };
const script = (name: string, body: string) => {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
};
/** Resolves on the n-th spawn. */
const spawnCounter = () => {
  const pids: (number | undefined)[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    pids,
    onSpawn: (_slot: number, pid: number | undefined) => {
      pids.push(pid);
      for (const w of waiters) if (pids.length >= w.n) w.resolve();
    },
    nth: (n: number) => new Promise<void>((resolve) => (pids.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
};
const STAYS_UP = `setInterval(() => {}, 1000); process.on('SIGTERM', () => process.exit(0));`;

describe('Supervisor', () => {
  it('restarts a child killed within its first second, and stops them all on request', async () => {
    const spawns = spawnCounter();
    const sup = new Supervisor({ name: 'child', spawn: forkScript(script('up.mjs', STAYS_UP)), count: 1, onSpawn: spawns.onSpawn }, silent);
    sup.start();
    await spawns.nth(1);
    process.kill(spawns.pids[0]!, 'SIGKILL'); // at once: well inside its first second
    await spawns.nth(2);
    expect(spawns.pids[0]).not.toBe(spawns.pids[1]);
    expect(sup.pids()).toEqual([spawns.pids[1]]);
    expect(await sup.stop('SIGTERM')).toBe('drained');
    expect(sup.pids()).toEqual([]);
  });

  it('gives up after its restart budget, and only then: its process exits non-zero', async () => {
    // In a process of its own, to see the exit code the way Docker or a shell would.
    const child = script('dies.mjs', 'process.exit(3);');
    const policy: Partial<RestartPolicy> = { backoffMs: 10, maxRestarts: 2 };
    const helper = script(
      'gives-up.mjs',
      `import { Supervisor, forkScript } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'index.ts')).href)};
       const log = { info() {}, warn() {}, error() {} };
       const sup = new Supervisor({ name: 'child', spawn: forkScript(${JSON.stringify(child)}), count: 1, policy: ${JSON.stringify(policy)}, onSpawn: () => console.log('spawn') }, log);
       sup.start();
       sup.gaveUp.then(() => process.exit(1));`,
    );
    const proc = spawn(process.execPath, ['--import', TSX_IMPORT, helper], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
    expect(code).toBe(1);
    expect(out.split('\n').filter((l) => l === 'spawn')).toHaveLength(3); // the first run and two restarts
  }, 20_000);

  it('starts a slot’s count over once its child ran stably', async () => {
    // Each run lives past stableMs before it dies: with a budget of one restart, only the reset keeps it going.
    const child = script('lives-then-dies.mjs', 'setTimeout(() => process.exit(3), 300);');
    const spawns = spawnCounter();
    const sup = new Supervisor({ name: 'child', spawn: forkScript(child), count: 1, policy: { stableMs: 100, maxRestarts: 1, backoffMs: 10 }, onSpawn: spawns.onSpawn }, silent);
    let gaveUp = false;
    void sup.gaveUp.then(() => (gaveUp = true));
    sup.start();
    await spawns.nth(4);
    await sup.stop();
    expect(gaveUp).toBe(false);
  });

  it('kills a child that outlives the stop deadline', async () => {
    const stubborn = script('stubborn.mjs', `setInterval(() => {}, 1000); process.on('SIGTERM', () => {}); process.send?.('ready');`);
    let ready: () => void = () => {};
    const handlerSet = new Promise<void>((r) => (ready = r));
    const spawnIt = (slot: number) => forkScript(stubborn)(slot).once('message', () => ready());
    const sup = new Supervisor({ name: 'child', spawn: spawnIt, count: 1, policy: { stopDeadlineMs: 300 } }, silent);
    sup.start();
    await handlerSet; // it ignores SIGTERM from here on
    expect(await sup.stop('SIGTERM')).toBe('killed');
    expect(sup.pids()).toEqual([]);
  });

  it('keeps its own process alive while a restart waits out its backoff', async () => {
    // Nothing else holds the helper's event loop: if the restart timer does not, it exits with no child.
    const child = script('dies-at-once.mjs', 'process.exit(3);');
    const helper = script(
      'supervisor.mjs',
      `import { Supervisor, forkScript } from ${JSON.stringify(pathToFileURL(join(import.meta.dirname, 'index.ts')).href)};
       const log = { info() {}, warn() {}, error() {} };
       const sup = new Supervisor({ name: 'child', spawn: forkScript(${JSON.stringify(child)}), count: 1, onSpawn: () => console.log('spawn') }, log);
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
    const spawns = spawnCounter();
    const sup = new Supervisor({ name: 'child', spawn: forkScript(script('quick-death.mjs', 'process.exit(3);')), count: 1, onSpawn: spawns.onSpawn }, silent);
    sup.start();
    // The child is gone from pids() once its exit is handled, which is when its restart (1 s backoff) is set.
    while (sup.pids().length > 0) await new Promise((r) => setTimeout(r, 20)); // a poll interval, not synchronisation
    await sup.stop();
    await new Promise((r) => setTimeout(r, 1500)); // past the backoff: nothing may spawn in it
    expect(spawns.pids).toHaveLength(1);
    expect(sup.pids()).toEqual([]);
  });
});
