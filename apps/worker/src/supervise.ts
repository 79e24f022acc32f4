import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from '@facematch/logger';

/** The tsx loader as a file URL, so children resolve it wherever they run. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/**
 * Keeps `count` copies of a script alive: a child that dies is restarted with capped backoff. The
 * queue, not this, owns the work: a job a dead child held is recovered by BullMQ's stalled-job check.
 */
export class Supervisor {
  private readonly children = new Set<ChildProcess>();
  /** Restarts waiting out their backoff; stop() cancels them. */
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopping = false;
  private restarts = 0;

  constructor(
    private readonly opts: { name: string; script: string; count: number; env?: NodeJS.ProcessEnv; onSpawn?: (slot: number, pid: number | undefined) => void },
    private readonly log: Logger,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.count; i++) this.spawn(i);
  }

  private spawn(slot: number): void {
    if (this.stopping) return;
    const child = fork(this.opts.script, [], { execArgv: ['--import', TSX_IMPORT], env: { ...process.env, ...this.opts.env, WORKER_SLOT: String(slot) } });
    this.children.add(child);
    this.opts.onSpawn?.(slot, child.pid);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      this.children.delete(child);
      if (this.stopping) return;
      // Quick deaths back off (a crash loop must not spin the CPU); a long-lived child restarts at once.
      const delay = Date.now() - startedAt > 60_000 ? 0 : Math.min(30_000, 1000 * 2 ** Math.min(this.restarts++, 5));
      this.log.warn({ slot, pid: child.pid, code, signal, restartInMs: delay }, `${this.opts.name} exited; restarting`);
      // Not unref'd: with every child dead, this timer is all that keeps the supervisor, and so the service, alive.
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        this.spawn(slot);
      }, delay);
      this.pending.add(timer);
    });
  }

  pids(): number[] {
    return [...this.children].flatMap((c) => (c.pid ? [c.pid] : []));
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

  /** Forwards the signal and waits for every child to finish its own graceful shutdown. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopRestarting();
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill(signal);
          }),
      ),
    );
  }
}
