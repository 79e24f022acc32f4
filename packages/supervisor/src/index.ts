import { fork, type ChildProcess } from 'node:child_process';

/** The tsx loader as a file URL, so children resolve it wherever they run. */
export const TSX_IMPORT = import.meta.resolve('tsx');

export interface SupervisorLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * The one restart policy of `npm start`, the worker pool and the API cluster. A child that dies is
 * restarted after a backoff that doubles from `backoffMs` up to `maxBackoffMs`; one that ran `stableMs`
 * or longer counts as healthy, and its slot's count starts over. A slot that dies `maxRestarts` times in a
 * row without becoming stable is a fault no restart fixes (a missing native package, a bad config): the
 * supervisor stops every child and reports `gaveUp`, and its process exits non-zero, so whatever runs it
 * (Docker's restart policy, systemd, a shell) sees the failure instead of a crash loop that looks alive.
 */
export interface RestartPolicy {
  backoffMs: number;
  maxBackoffMs: number;
  stableMs: number;
  maxRestarts: number;
  /** How long stop() waits for children to finish their own shutdown before it kills them. */
  stopDeadlineMs: number;
}

export const DEFAULT_POLICY: RestartPolicy = { backoffMs: 1000, maxBackoffMs: 30_000, stableMs: 60_000, maxRestarts: 10, stopDeadlineMs: 30_000 };

/** How a supervised child is started: a script forked with tsx, or any ChildProcess (a cluster worker's). */
export type Spawn = (slot: number) => ChildProcess;

export function forkScript(script: string, env?: NodeJS.ProcessEnv): Spawn {
  return (slot) => fork(script, [], { execArgv: ['--import', TSX_IMPORT], env: { ...process.env, ...env, WORKER_SLOT: String(slot) } });
}

/**
 * Keeps `count` children alive. The queue, not this, owns the work: a job a dead child held is recovered
 * by BullMQ's stalled-job check.
 */
export class Supervisor {
  private readonly children = new Map<ChildProcess, number>();
  /** Restarts waiting out their backoff; stop() cancels them. */
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly failures = new Map<number, number>();
  private readonly policy: RestartPolicy;
  private stopping = false;
  private resolveGaveUp: (reason: { slot: number; restarts: number }) => void = () => {};
  /** Settles when a slot has used up its restart budget; every child has been stopped by then. */
  readonly gaveUp = new Promise<{ slot: number; restarts: number }>((r) => (this.resolveGaveUp = r));

  constructor(
    private readonly opts: { name: string; spawn: Spawn; count: number; policy?: Partial<RestartPolicy>; onSpawn?: (slot: number, pid: number | undefined) => void },
    private readonly log: SupervisorLog,
  ) {
    this.policy = { ...DEFAULT_POLICY, ...opts.policy };
  }

  start(): void {
    for (let i = 0; i < this.opts.count; i++) this.spawn(i);
  }

  private spawn(slot: number): void {
    if (this.stopping) return;
    const child = this.opts.spawn(slot);
    this.children.set(child, slot);
    this.opts.onSpawn?.(slot, child.pid);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      this.children.delete(child);
      if (this.stopping) return;
      const stable = Date.now() - startedAt >= this.policy.stableMs;
      const failures = stable ? 0 : (this.failures.get(slot) ?? 0) + 1;
      this.failures.set(slot, failures);
      const fields = { name: this.opts.name, slot, pid: child.pid, code, signal, restarts: failures };
      if (failures > this.policy.maxRestarts) {
        this.log.error(fields, `${this.opts.name} keeps dying; giving up`);
        void this.stop().then(() => this.resolveGaveUp({ slot, restarts: failures - 1 }));
        return;
      }
      // A long-lived child restarts at once; quick deaths back off, so a crash loop does not spin the CPU.
      const delay = stable ? 0 : Math.min(this.policy.maxBackoffMs, this.policy.backoffMs * 2 ** (failures - 1));
      this.log.warn({ ...fields, restartInMs: delay }, `${this.opts.name} exited; restarting`);
      // Not unref'd: with every child dead, this timer is all that keeps the supervisor, and so the service, alive.
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        this.spawn(slot);
      }, delay);
      this.pending.add(timer);
    });
  }

  pids(): number[] {
    return [...this.children.keys()].flatMap((c) => (c.pid ? [c.pid] : []));
  }

  /**
   * From now on a child that exits stays down, and a pending restart is cancelled. For shutting down in
   * stages: a group SIGTERM reaches the children before stop() does, and none may come back meanwhile.
   */
  stopRestarting(): void {
    this.stopping = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  /**
   * Forwards the signal and waits for every child to finish its own graceful shutdown, for at most the
   * policy's stop deadline; a child still running then is killed. Says whether every child exited in time.
   */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<'drained' | 'killed'> {
    this.stopRestarting();
    const outcomes = await Promise.all(
      [...this.children.keys()].map(
        (c) =>
          new Promise<'drained' | 'killed'>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve('drained');
            let outcome: 'drained' | 'killed' = 'drained';
            const deadline = setTimeout(() => {
              this.log.warn({ name: this.opts.name, pid: c.pid, deadlineMs: this.policy.stopDeadlineMs }, `${this.opts.name} did not stop in time; killing it`);
              outcome = 'killed';
              c.kill('SIGKILL');
            }, this.policy.stopDeadlineMs);
            c.once('exit', () => {
              clearTimeout(deadline);
              resolve(outcome);
            });
            c.kill(signal);
          }),
      ),
    );
    return outcomes.includes('killed') ? 'killed' : 'drained';
  }
}
