/**
 * Connections to a verifier harness: a child process speaking JSON lines, an HTTP endpoint, or an
 * in-process handler.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { spawnInGroup } from '../process-groups.js';
import type { HarnessConnection, HarnessReply, HarnessRequest } from './protocol.js';

/** Default time a harness has to answer one request, milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** Options of {@link connectProcessHarness}. */
export interface ProcessHarnessOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Per request, milliseconds. Default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

interface Pending {
  resolve(reply: HarnessReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Launches `command` (through the shell) and speaks JSON lines with it: one request per line on its
 * stdin, one reply per line on its stdout, matched in order (and checked by `id`).
 */
export function connectProcessHarness(
  command: string,
  options: ProcessHarnessOptions = {},
): HarnessConnection {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // a process group of its own (see process-groups.ts): stopping it stops what the shell started
  const { child, signal: kill } = spawnInGroup(command, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const queue: Pending[] = [];
  const stderrTail: string[] = [];
  let exited: string | undefined;
  const fail = (why: string) => {
    exited ??= why;
    for (const p of queue.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new Error(`${why}${stderrTail.length > 0 ? `; stderr: ${stderrTail.join(' | ')}` : ''}`));
    }
  };
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      stderrTail.push(line.trim());
      if (stderrTail.length > 5) stderrTail.shift();
    }
  });
  child.on('error', (e) => fail(`harness could not start: ${e.message}`));
  child.on('exit', (code, signal) => fail(`harness exited (${signal ?? code})`));
  child.stdin?.on('error', () => {}); // EPIPE after the child died: reported by 'exit'
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    const p = queue.shift();
    if (p === undefined) return; // an unsolicited line: ignored
    clearTimeout(p.timer);
    try {
      const reply = JSON.parse(line) as unknown;
      if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
        p.reject(new Error(`harness reply is not a JSON object: ${line.slice(0, 200)}`));
      } else p.resolve(reply as HarnessReply);
    } catch {
      p.reject(new Error(`harness wrote a line that is not JSON: ${line.slice(0, 200)}`));
    }
  });
  return {
    label: command,
    request(message: HarnessRequest) {
      if (exited !== undefined) return Promise.reject(new Error(exited));
      return new Promise<HarnessReply>((resolve, reject) => {
        const timer = setTimeout(() => {
          // a reply that never comes desynchronises the stream: give up on this harness
          fail(`harness did not answer "${message.op}" within ${timeoutMs} ms`);
          kill('SIGKILL');
        }, timeoutMs);
        queue.push({
          timer,
          reject,
          resolve: (reply) => {
            if (reply.id !== message.id) {
              reject(
                new Error(`reply id ${JSON.stringify(reply.id)} does not match request id "${message.id}"`),
              );
            } else resolve(reply);
          },
        });
        child.stdin?.write(`${JSON.stringify(message)}\n`);
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          kill('SIGTERM'); // whatever the shell left behind
          return resolve();
        }
        const timer = setTimeout(() => kill('SIGKILL'), 2000);
        child.once('exit', () => {
          clearTimeout(timer);
          kill('SIGTERM');
          resolve();
        });
        child.stdin?.end();
      });
    },
  };
}

/** Connects to a harness HTTP endpoint: each request is `POST url` with the JSON body. */
export function connectHttpHarness(url: string, options: { timeoutMs?: number } = {}): HarnessConnection {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return {
    label: url,
    async request(message) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        throw new Error(`harness answered HTTP ${res.status} with a body that is not JSON`);
      }
      if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
        throw new Error(`harness answered HTTP ${res.status} with JSON that is not an object`);
      }
      return reply as HarnessReply;
    },
    async close() {},
  };
}

/** A harness as a function (the `builtin` target, and tests). */
export type HarnessHandler = (message: HarnessRequest) => Promise<HarnessReply> | HarnessReply;

/** Wraps an in-process handler as a connection. Messages go through JSON, as on the wire. */
export function connectInProcessHarness(handler: HarnessHandler, label = 'builtin'): HarnessConnection {
  return {
    label,
    async request(message) {
      const wire = JSON.parse(JSON.stringify(message)) as HarnessRequest;
      return JSON.parse(JSON.stringify(await handler(wire))) as HarnessReply;
    },
    async close() {},
  };
}
