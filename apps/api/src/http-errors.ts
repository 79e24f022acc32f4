import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { FaceMatchError } from '@facematch/contracts';

/** How long an answered socket may keep sending before it is destroyed. */
const LINGER_MS = 1000;
const answered = new WeakSet<Duplex>();

/**
 * An http.Server 'clientError' listener: answers what Node refuses before the app sees a request (a
 * request line and headers over maxHeaderSize, a request past headersTimeout or requestTimeout, bytes
 * that are not HTTP) in the API's error shape, where Node's own answer is a bare status line. There is
 * no request or response object here, so the answer is written to the socket itself.
 *
 * Node 20 sends the request timeout here even while the app handles the request: the timeout runs
 * until the last byte of the body, so a slow upload the app is still reading ends here, with the 408,
 * and the app's own answer goes to a closed socket. Once the whole request has arrived no timeout
 * applies, however long the handler takes. If the app had begun its answer, writing another would
 * corrupt it, so the socket is only destroyed, as Node does.
 */
export function handleClientError(err: Error, socket: Duplex): void {
  // Node calls again for bytes that arrive after the answer; the answer stands.
  if (answered.has(socket)) return;
  const code = (err as { code?: unknown }).code;
  // _httpMessage is the response on this socket, if the app has one: Node's own listener checks it too.
  const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (code === 'ECONNRESET' || !socket.writable || started) {
    socket.destroy();
    return;
  }
  answered.add(socket);
  const e =
    code === 'HPE_HEADER_OVERFLOW'
      ? new FaceMatchError('HEADERS_TOO_LARGE', 'the request line and headers are too large')
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new FaceMatchError('REQUEST_TIMEOUT', 'the request did not arrive in time')
        : code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? new FaceMatchError('BODY_TOO_LARGE', 'the chunk extensions are too large')
          : new FaceMatchError('BAD_REQUEST', 'the request is malformed');
  const body = JSON.stringify({ error: e.toJSON() });
  socket.end(
    `HTTP/1.1 ${e.httpStatus} ${STATUS_CODES[e.httpStatus] ?? ''}\r\n` +
      'content-type: application/json; charset=utf-8\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n` +
      'connection: close\r\n\r\n' +
      body,
  );
  // Half-closed rather than destroyed at once: closing with unread bytes (the rest of a 100 KB path)
  // sends a reset, which can make the client drop the answer before reading it.
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
