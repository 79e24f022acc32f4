import { connect } from 'node:net';

export type Reply = string | number | null | Reply[] | Error;

/**
 * One Redis command over a fresh socket, in RESP, for tests that must act on Redis itself (make it refuse
 * writes, read a queue's active list) while the service's own connections are the thing under test.
 * It depends on nothing of ours, so a bug in the queue package cannot hide behind it.
 */
export function redisCommand(url: string, ...args: (string | number)[]): Promise<Reply> {
  const { hostname, port } = new URL(url);
  const payload = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port || 6379), hostname.replace(/^\[|\]$/g, ''));
    let buf = Buffer.alloc(0);
    socket.setTimeout(5000, () => socket.destroy(new Error('redis command timed out')));
    socket.on('error', reject);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const parsed = parse(buf, 0);
      if (parsed) {
        socket.end();
        resolve(parsed[0]);
      }
    });
    socket.write(payload);
  });
}

/** Parses one reply at `at`; undefined while it is incomplete. */
function parse(buf: Buffer, at: number): [Reply, number] | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const head = buf.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (String.fromCharCode(buf[at]!)) {
    case '+':
      return [head, next];
    case '-':
      return [new Error(head), next];
    case ':':
      return [Number(head), next];
    case '$': {
      const n = Number(head);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return undefined;
      return [buf.toString('utf8', next, next + n), next + n + 2];
    }
    case '*': {
      const n = Number(head);
      if (n < 0) return [null, next];
      const out: Reply[] = [];
      let pos = next;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, pos);
        if (!item) return undefined;
        out.push(item[0]);
        pos = item[1];
      }
      return [out, pos];
    }
    default:
      throw new Error(`unexpected RESP reply: ${head}`);
  }
}
