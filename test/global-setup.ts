import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from '@facematch/queue';
import { dumpKeys } from '@facematch/queue/testing';
import { parseConfig, testEnvSchema } from '@facematch/config';
import { findLeaks } from './support/leaks.ts';
import { summarize } from './support/tally.ts';

/**
 * Gives every test process one tally file and this run's id (its Redis prefixes start fmtest-<id>-), and
 * at the end prints the tally, scans this run's keys and logs for leaks, and fails a whole-suite run that
 * fell short of the tally's expected list.
 */
export default function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'facematch-tally-'));
  const file = join(dir, 'tally.jsonl');
  writeFileSync(file, '');
  const run = randomBytes(4).toString('hex');
  process.env.FACEMATCH_TALLY_FILE = file;
  process.env.FACEMATCH_TEST_RUN = run;
  // `vitest run` with no file or test-name filter is the whole suite, whose tally must be complete.
  const args = process.argv.slice(process.argv.findIndex((a) => /vitest/.test(a)) + 1);
  const whole = !args.some((a) => a === '-t' || a.startsWith('--testNamePattern') || (!a.startsWith('-') && a !== 'run'));
  return async () => {
    try {
      // After the whole suite: no image bytes, tokens or descriptors in any key or any captured log line.
      const logs = existsSync(`${file}.logs`) ? readFileSync(`${file}.logs`, 'utf8').split('\n') : [];
      const url = parseConfig(testEnvSchema).REDIS_URL ?? 'redis://127.0.0.1:6379';
      // The keys each service left when it stopped (recorded, then deleted), and anything still in Redis.
      const recorded = existsSync(`${file}.keys`)
        ? readFileSync(`${file}.keys`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as [string, string])
        : [];
      // This run's keys only: another run's (a bench killed earlier, a suite beside this one) are not ours to judge.
      const live = (await redisAnswers(url)) ? await dumpKeys(url, `fmtest-${run}-*`) : new Map<string, string>();
      const keys = new Map([...recorded, ...live]);
      const leaks = findLeaks([...logs.map((l, i) => [`log line ${i + 1}`, l] as [string, string]), ...keys]);
      const tally = summarize(file);
      console.log(`\n${tally.line}; leak scan: ${leaks.length} hits in ${keys.size} Redis keys and ${logs.length} log lines\n`);
      if (leaks.length > 0) {
        process.exitCode = 1; // vitest reports a teardown error but would still exit 0
        throw new Error(`leaks found:\n${leaks.slice(0, 20).join('\n')}`);
      }
      if (whole && tally.shortfalls.length > 0) {
        process.exitCode = 1;
        throw new Error(`the suite fell short of its tally:\n${tally.shortfalls.join('\n')}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}
