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

/** What the suite sets out to show; the tally reports against these. */
export const EXPECTED = { faults: 16, inputs: 66 };

export const tally = {
  fault(name: string, survived: boolean) {
    if (survived) add({ kind: 'fault', name });
  },
  input(name: string) {
    add({ kind: 'input', name });
  },
  jobs(submitted: number, completed: number) {
    add({ kind: 'jobs', submitted, completed });
  },
};

export function summarize(path: string): string {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
  const faults = new Set(lines.flatMap((l) => (l.kind === 'fault' ? [l.name] : [])));
  const inputs = new Set(lines.flatMap((l) => (l.kind === 'input' ? [l.name] : [])));
  let lost = 0;
  for (const l of lines) if (l.kind === 'jobs') lost += l.submitted - l.completed;
  return `faults survived ${faults.size}/${EXPECTED.faults}, bad inputs refused ${inputs.size}/${EXPECTED.inputs}, jobs lost ${lost}`;
}
