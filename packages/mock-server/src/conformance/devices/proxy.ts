/**
 * A recording HTTP proxy between the device under test and the mock platform: it forwards every
 * request unchanged (the `Host` header included, so signatures still verify) and records its
 * method, path, headers and status, which the platform's own recording leaves out.
 *
 * @module
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** One proxied request. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The platform's status, or 0 when the connection failed or was dropped. */
  status: number;
}

/** A running proxy. */
export interface RecordingProxy {
  readonly url: string;
  readonly requests: ProxiedRequest[];
  /**
   * Unplugs (`false`: the port stops listening and open connections are cut, so the device's
   * connections are refused) or plugs the network back in (`true`: listens on the same port).
   */
  setOnline(online: boolean): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (a free port) in front of `target` (an `http://host:port` URL). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const to = new URL(target);
  const requests: ProxiedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const entry: ProxiedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: body.toString('utf8'),
        status: 0,
      };
      requests.push(entry);
      const out = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          entry.status = up.statusCode ?? 0;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      // the platform dropped the connection (fault injection): drop the device's connection too
      out.on('error', () => req.socket.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
  let listening = true;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    async setOnline(online) {
      if (!online) return stop();
      if (listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      listening = true;
    },
    close: stop,
  };
}
