/**
 * `startMockPlatform`: the mock platform listening on a port.
 *
 * @module
 */
import { createMockPlatform, type MockPlatform, type MockPlatformOptions } from './platform.js';

/** Options of {@link startMockPlatform}. */
export interface StartMockPlatformOptions extends MockPlatformOptions {
  /** Port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Host; default 127.0.0.1. */
  readonly host?: string;
}

/** A listening mock platform. */
export interface RunningMockPlatform {
  /** Base URL, e.g. `http://127.0.0.1:53122`. */
  readonly url: string;
  /** The port it listens on (the one picked when asked for 0). */
  readonly port: number;
  /**
   * The platform itself: its state (database, settings), virtual clock, demo data, recorder, and
   * `invoke` to call an operation without HTTP (as the operator, say).
   */
  readonly platform: MockPlatform;
  /**
   * Closes the server and the database. Requests in flight are answered first (an injected delay
   * ends at once), idle keep-alive connections are closed, and a connection still open after 5 s
   * (a client that never finishes its request) is destroyed.
   */
  close(): Promise<void>;
  /** The same as {@link RunningMockPlatform.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts the mock platform on a port (default: a free one). When it cannot listen (the port is in
 * use: `EADDRINUSE`), it closes the platform and rejects with the error of `listen`.
 *
 * @example
 * ```ts
 * await using server = await startMockPlatform({ dbPath: ':memory:', demo: true });
 * const res = await fetch(`${server.url}/health`);
 * ```
 */
export async function startMockPlatform(
  options: StartMockPlatformOptions = {},
): Promise<RunningMockPlatform> {
  const platform = await createMockPlatform({ dbPath: ':memory:', ...options });
  const host = options.host ?? '127.0.0.1';
  try {
    await platform.app.listen({ port: options.port ?? 0, host });
  } catch (error) {
    // the port is taken, the host is not this machine's: close the database and workers too
    await platform.close();
    throw error;
  }
  const addr = platform.app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : (options.port ?? 0);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // the requests in flight are answered first (see CLOSE_GRACE_MS in app.ts)
  const close = () => platform.close();
  return { url, port, platform, close, [Symbol.asyncDispose]: close };
}
