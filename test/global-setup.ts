import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dumpKeys, redisAnswers } from '@facematch/queue';
import { parseConfig, testEnvSchema } from '@facematch/config';
import { findLeaks } from './support/leaks.ts';
import { summarize } from './support/tally.ts';

/** Gives every test process one tally file, and prints the suite's tally at the end. */
export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'facematch-tally-'));
  const file = join(dir, 'tally.jsonl');
  writeFileSync(file, '');
  process.env.FACEMATCH_TALLY_FILE = file;
  return async () => {
    try {
      // After the whole suite: no image bytes, tokens or descriptors in any key or any captured log line.
      const logs = existsSync(`${file}.logs`) ? readFileSync(`${file}.logs`, 'utf8').split('\n') : [];
      const url = parseConfig(testEnvSchema).REDIS_URL ?? 'redis://127.0.0.1:6379';
      // The keys each service left when it stopped (recorded, then deleted), and anything still in Redis.
      const recorded = existsSync(`${file}.keys`)
        ? readFileSync(`${file}.keys`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as [string, string])
        : [];
      const live = (await redisAnswers(url)) ? await dumpKeys(url, 'fmtest-*') : new Map<string, string>();
      const keys = new Map([...recorded, ...live]);
      const leaks = findLeaks([...logs.map((l, i) => [`log line ${i + 1}`, l] as [string, string]), ...keys]);
      console.log(`\n${summarize(file)}; leak scan: ${leaks.length} hits in ${keys.size} Redis keys and ${logs.length} log lines\n`);
      if (leaks.length > 0) {
        process.exitCode = 1; // vitest reports a teardown error but would still exit 0
        throw new Error(`leaks found:\n${leaks.slice(0, 20).join('\n')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
