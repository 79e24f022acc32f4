// For tests of the ingress without Redis or workers (`@facematch/api/testing`).
import { randomBytes } from 'node:crypto';
import { FaceMatchError, type JobView } from '@facematch/contracts';
import type { WaitOutcome } from '@facematch/queue';
import type { QueuePort } from './app.ts';

/** A small fake behind the QueuePort interface, for tests of the ingress alone; the real queue is exercised in test/service.test.ts. */
export class FakeQueue implements QueuePort {
  submitted: unknown[] = [];
  next: WaitOutcome = { state: 'pending' };
  down = false;
  jobs = new Map<string, JobView & { tenant: string }>();
  /** Ids get and delete were asked about. */
  looked: string[] = [];
  async submit(req: { tenant: string }) {
    if (this.down) throw new FaceMatchError('QUEUE_UNAVAILABLE', 'the job queue is unavailable; retry shortly');
    this.submitted.push(req);
    const id = randomBytes(18).toString('base64url'); // as the real queue makes them
    this.jobs.set(id, { id, status: 'queued', createdAt: new Date(0).toISOString(), tenant: req.tenant });
    return { id, created: true, wait: async () => this.next };
  }
  async get(tenant: string, id: string) {
    this.looked.push(id);
    const j = this.jobs.get(id);
    if (!j || j.tenant !== tenant) return undefined;
    const { tenant: _t, ...view } = j;
    return view;
  }
  async delete(tenant: string, id: string) {
    this.looked.push(id);
    return (await this.get(tenant, id)) !== undefined && this.jobs.delete(id);
  }
  async ping() {
    return !this.down;
  }
  async workerCount() {
    return 1;
  }
  async checkRate() {}
}

