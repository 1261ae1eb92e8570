/**
 * A lean HTTP/1.1 load-generator client for the server benchmark: keep-alive sockets, one request
 * in flight per socket, each request written in one `write`, each response read for its status
 * line, `Content-Length` (or chunked) body, and `Connection: close`.
 *
 * Why not undici: the load generator shares the machine's two cores with the server it measures.
 * An undici `Pool.dispatch` costs the load generator about 100 µs of CPU per request (a quarter of
 * a core at 2 000 requests/s), and that CPU is taken from the server. This is what wrk or
 * autocannon do for the same reason; the bench's `BENCH_CLIENT=undici` still runs undici, for
 * comparison. Every request is still signed live by the caller.
 *
 * It is a bench tool, not a client: no redirects, no `100-continue`, no pipelining, no trailers,
 * no TLS, and a response without a length (read until close) is an error.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';

/** One request: `headers` are ASCII (`host` and `content-length` are added). */
export interface LeanRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

/** One response: the status and the whole body. */
export interface LeanResponse {
  readonly status: number;
  readonly body: Buffer;
}

/** A fixed set of keep-alive connections to one origin. */
export interface LeanPool {
  /** Sends `req` on the next free connection (queued while all are busy). Rejects on a socket error. */
  request(req: LeanRequest): Promise<LeanResponse>;
  /** Closes every connection; queued requests reject. */
  close(): Promise<void>;
}

interface Pending {
  readonly bytes: Buffer;
  readonly resolve: (r: LeanResponse) => void;
  readonly reject: (e: Error) => void;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Where a complete response ends in `buf` (and what it is), or `undefined` if more bytes are needed. */
function parseResponse(
  buf: Buffer,
):
  | { readonly end: number; readonly status: number; readonly body: Buffer; readonly close: boolean }
  | undefined {
  const h = buf.indexOf(HEADER_END);
  if (h < 0) return undefined;
  const head = buf.toString('latin1', 0, h);
  if (!head.startsWith('HTTP/1.'))
    throw new Error(`not an HTTP/1 response: ${JSON.stringify(head.slice(0, 40))}`);
  const status = Number(head.slice(9, 12));
  const lower = head.toLowerCase();
  const close = /\r\nconnection:\s*close/.test(lower);
  const start = h + 4;
  const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  if (length !== null) {
    const end = start + Number(length[1]);
    return buf.length < end ? undefined : { end, status, body: buf.subarray(start, end), close };
  }
  if (/\r\ntransfer-encoding:\s*chunked/.test(lower)) {
    const parts: Buffer[] = [];
    let at = start;
    for (;;) {
      const eol = buf.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const size = Number.parseInt(buf.toString('latin1', at, eol), 16);
      if (!Number.isInteger(size) || size < 0) throw new Error('bad chunk size');
      if (size === 0) {
        if (buf.length < eol + 4) return undefined; // "0\r\n\r\n" (no trailers)
        return { end: eol + 4, status, body: Buffer.concat(parts), close };
      }
      if (buf.length < eol + 2 + size + 2) return undefined;
      parts.push(buf.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    return { end: start, status, body: Buffer.alloc(0), close };
  }
  throw new Error(`response ${status} has no length`);
}

/** Opens up to `connections` keep-alive sockets to `http://host:port`, on demand. */
export function createLeanPool(url: string, connections: number): LeanPool {
  const { hostname, port } = new URL(url);
  const host = `${hostname}:${port}`;
  const queue: Pending[] = [];
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  let closed = false;

  class Conn {
    readonly socket: Socket;
    current: Pending | undefined;
    buf: Buffer | undefined;
    constructor() {
      this.socket = connect({ host: hostname, port: Number(port), noDelay: true });
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', (e) => this.fail(e));
      this.socket.on('close', () => this.fail(new Error('socket closed')));
      all.add(this);
    }
    send(p: Pending): void {
      this.current = p;
      this.socket.write(p.bytes);
    }
    onData(chunk: Buffer): void {
      this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
      const p = this.current;
      if (p === undefined) {
        this.fail(new Error('bytes with no request in flight'));
        return;
      }
      let r: ReturnType<typeof parseResponse>;
      try {
        r = parseResponse(this.buf);
      } catch (e) {
        this.fail(e as Error);
        return;
      }
      if (r === undefined) return;
      if (r.end !== this.buf.length) {
        this.fail(new Error('bytes after the response'));
        return;
      }
      this.buf = undefined;
      this.current = undefined;
      p.resolve({ status: r.status, body: r.body });
      if (r.close) this.drop();
      else release(this);
    }
    fail(e: Error): void {
      const p = this.current;
      this.current = undefined;
      this.drop();
      p?.reject(e);
    }
    drop(): void {
      if (!all.delete(this)) return;
      const i = idle.indexOf(this);
      if (i >= 0) idle.splice(i, 1);
      this.socket.destroy();
      pump();
    }
  }

  function release(c: Conn): void {
    const next = queue.shift();
    if (next !== undefined) c.send(next);
    else idle.push(c);
  }

  function pump(): void {
    while (queue.length > 0 && !closed) {
      const c = idle.pop() ?? (all.size < connections ? new Conn() : undefined);
      if (c === undefined) return;
      c.send(queue.shift() as Pending);
    }
  }

  return {
    request(req) {
      if (closed) return Promise.reject(new Error('pool closed'));
      let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${host}\r\n`;
      for (const k in req.headers) head += `${k}: ${req.headers[k]}\r\n`;
      if (req.body !== undefined) head += `content-length: ${req.body.length}\r\n`;
      head += '\r\n';
      const bytes =
        req.body === undefined
          ? Buffer.from(head, 'latin1')
          : Buffer.concat([Buffer.from(head, 'latin1'), req.body]);
      return new Promise<LeanResponse>((resolve, reject) => {
        queue.push({ bytes, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const p of queue.splice(0)) p.reject(new Error('pool closed'));
      await Promise.all(
        [...all].map(
          (c) =>
            new Promise<void>((resolve) => {
              c.socket.once('close', () => resolve());
              c.drop();
            }),
        ),
      );
    },
  };
}
