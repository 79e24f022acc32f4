import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How the receiver answers one request: a status, or a hook that answers (or never does). */
export type Reply = number | ((res: ServerResponse) => void);

/** A real HTTP receiver on loopback that answers from a script per path and records everything. */
export class Receiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, Reply[]>();
  private readonly waiters: { path: string; n: number; resolve: () => void }[] = [];
  private server: Server | undefined;
  port = 0;

  async listen(port = 0): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const reply = this.scripts.get(path)?.shift() ?? 200;
        if (typeof reply === 'number') res.writeHead(reply).end();
        else reply(res);
        for (const w of [...this.waiters]) {
          if (this.for(w.path).length >= w.n) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, ...replies: Reply[]): void {
    this.scripts.set(path, replies);
  }

  for(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  /** Resolves once `n` requests have reached `path`. */
  waitFor(path: string, n: number, timeoutMs = 60_000): Promise<Received[]> {
    if (this.for(path).length >= n) return Promise.resolve(this.for(path));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`receiver: ${this.for(path).length}/${n} requests to ${path}`)), timeoutMs);
      this.waiters.push({ path, n, resolve: () => (clearTimeout(t), resolve(this.for(path))) });
    });
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
