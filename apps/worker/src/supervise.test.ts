import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '@facematch/logger';
import { Supervisor } from './supervise.ts';

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
});
