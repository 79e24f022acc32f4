/**
 * The suite's own tally: faults survived, bad inputs refused, jobs lost. Test files run in separate
 * processes, so each appends a line to one file and the global teardown adds them up and prints the line.
 * A test records its outcome only after its assertions passed, so a failure shows as a shortfall.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { parseConfig, testEnvSchema } from '@facematch/config';

type Line = { kind: 'fault' | 'input'; name: string } | { kind: 'jobs'; submitted: number; completed: number };

const file = parseConfig(testEnvSchema).FACEMATCH_TALLY_FILE;
const add = (line: Line) => {
  if (file) appendFileSync(file, `${JSON.stringify(line)}\n`);
};

/** What the suite sets out to show. A full run that misses one of these faults, or refuses fewer inputs, fails. */
export const EXPECTED = {
  faults: [
    'Redis restarted with jobs queued and active',
    'Redis down while a client submits',
    'Redis down when the API boots',
    'workers started, stopped and killed while jobs flow',
    'overload past MAX_QUEUE_DEPTH',
    'per-tenant rate limit',
    'the metrics port is taken',
    'Redis refuses the image write (OOM)',
    'Redis refuses writes for 10 s while a job is active',
    'DELETE while a webhook delivery is retrying',
    'results expire at RESULT_TTL_S with no traffic',
    'SIGTERM to a worker mid-job',
    'kill -9 of a worker mid-job',
    'webhook receiver down, then up',
    'kill -9 of a worker mid-delivery',
    'a job that kills its worker three times: failed past the stall limit, webhook sent',
  ],
  inputs: 66,
} as const;

export const tally = {
  /** Called after the test's assertions passed: a fault that was not survived never reaches the tally. */
  fault(name: (typeof EXPECTED.faults)[number]) {
    add({ kind: 'fault', name });
  },
  input(name: string) {
    add({ kind: 'input', name });
  },
  jobs(submitted: number, completed: number) {
    add({ kind: 'jobs', submitted, completed });
  },
};

export function summarize(path: string): { line: string; shortfalls: string[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const faults = new Set(lines.flatMap((l) => (l.kind === 'fault' ? [l.name] : [])));
  const inputs = new Set(lines.flatMap((l) => (l.kind === 'input' ? [l.name] : [])));
  let lost = 0;
  for (const l of lines) if (l.kind === 'jobs') lost += l.submitted - l.completed;
  const survived = EXPECTED.faults.filter((f) => faults.has(f));
  const shortfalls = [
    ...EXPECTED.faults.filter((f) => !faults.has(f)).map((f) => `fault not survived: ${f}`),
    ...(inputs.size < EXPECTED.inputs ? [`bad inputs refused: ${inputs.size} of ${EXPECTED.inputs}`] : []),
    ...(lost > 0 ? [`jobs lost: ${lost}`] : []),
  ];
  return { line: `faults survived ${survived.length}/${EXPECTED.faults.length}, bad inputs refused ${inputs.size}/${EXPECTED.inputs}, jobs lost ${lost}`, shortfalls };
}
