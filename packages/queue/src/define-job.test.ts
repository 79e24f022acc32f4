import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { JOBS, addJob, defineJob, handle, processorFor } from './define-job.ts';
import { DELIVERY_QUEUE, VERIFY_QUEUE } from './keys.ts';

const job = (name: string, data: unknown) => ({ name, data }) as Job;
/** Records what would have been added: BullMQ's own add is exercised by the integration tests. */
const fakeQueue = (name: string) => {
  const added: { name: string; data: unknown; opts: unknown }[] = [];
  return { added, queue: { name, add: async (n: string, data: unknown, opts: unknown) => (added.push({ name: n, data, opts }), {}) } as unknown as Queue };
};

describe('job definitions', () => {
  it('refuses a handler map that misses a job of its queue, handles one twice, or belongs elsewhere', () => {
    expect(() => processorFor(VERIFY_QUEUE, [])).toThrow(/no handler for face.verify/);
    const verify = handle(JOBS.verify, async () => 'ok');
    expect(() => processorFor(VERIFY_QUEUE, [verify, verify])).toThrow(/two handlers/);
    expect(() => processorFor(DELIVERY_QUEUE, [verify])).toThrow(/given to queue webhook-delivery/);
    expect(() => processorFor(VERIFY_QUEUE, [verify])).not.toThrow();
  });

  it('fails a job with an unknown name or a payload its schema refuses, for good, before the handler runs', async () => {
    let ran = 0;
    const process = processorFor(VERIFY_QUEUE, [handle(JOBS.verify, async (data) => (ran++, data.tenant))]);
    await expect(process(job('face.other', {}))).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(process(job('face.verify', { tenant: 42 }))).rejects.toThrow(UnrecoverableError);
    expect(ran).toBe(0);
    await expect(process(job('face.verify', { tenant: 'acme' }))).resolves.toBe('acme');
    expect(ran).toBe(1);
  });

  it('validates a payload before adding it, and adds it with the definition’s name and options', async () => {
    const def = defineJob({ queue: 'q', name: 'thing.do', schema: JOBS.verify.schema, options: { attempts: 2 } });
    const { added, queue } = fakeQueue('q');
    await expect(addJob(queue, def, { tenant: 7 } as never)).rejects.toThrow(/invalid thing.do payload/);
    await addJob(queue, def, { tenant: 'acme' }, { jobId: 'j1' });
    expect(added).toEqual([{ name: 'thing.do', data: { tenant: 'acme' }, opts: { attempts: 2, jobId: 'j1' } }]);
    await expect(addJob(fakeQueue('other').queue, def, { tenant: 'acme' })).rejects.toThrow(/belongs on q/);
  });
});
