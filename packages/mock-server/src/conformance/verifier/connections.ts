/**
 * Connections to a verifier harness: a child process speaking JSON lines, an HTTP endpoint, or an
 * in-process handler.
 *
 * @module
 */
import { BodyTooLargeError, MAX_LINE_CHARS, readBodyText, readLines } from '../lines.js';
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
  readonly id: string;
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
  const {
    child,
    signal: kill,
    stop,
  } = spawnInGroup(command, {
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
  // Requests failed by a line that was not their reply (a log line on stdout, another id): their
  // own reply may still come, and must be dropped, not taken as the reply of the next request
  // (which would fail every request after the first stray line).
  const abandoned = new Set<string>();
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    let reply: unknown;
    let json = true;
    try {
      reply = JSON.parse(line);
    } catch {
      json = false;
    }
    const isObject = typeof reply === 'object' && reply !== null && !Array.isArray(reply);
    const id = isObject ? (reply as HarnessReply).id : undefined;
    if (typeof id === 'string' && abandoned.delete(id)) return; // the late reply of a failed request
    const p = queue.shift();
    if (p === undefined) return; // an unsolicited line: ignored
    clearTimeout(p.timer);
    // an error reply to a request the harness could not read carries `"id": null` (protocol.ts)
    const matches = id === p.id || (id === null && typeof (reply as HarnessReply).error === 'string');
    if (!matches) abandoned.add(p.id);
    if (!json) p.reject(new Error(`harness wrote a line that is not JSON: ${line.slice(0, 200)}`));
    else if (!isObject) p.reject(new Error(`harness reply is not a JSON object: ${line.slice(0, 200)}`));
    else if (!matches)
      p.reject(new Error(`reply id ${JSON.stringify(id)} does not match request id "${p.id}"`));
    else p.resolve(reply as HarnessReply);
  };
  if (child.stdout) {
    readLines(child.stdout, onLine, {
      // a line without end (a flood, a binary written to stdout): held whole, it would end the
      // suite (node's longest string) instead of failing the harness
      onTooLong(head) {
        fail(`harness wrote a line longer than ${MAX_LINE_CHARS} characters on stdout: ${head}…`);
        kill('SIGKILL');
      },
    });
  }
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
          id: message.id,
          timer,
          reject,
          resolve,
        });
        child.stdin?.write(`${JSON.stringify(message)}\n`);
      });
    },
    async close() {
      // the end of stdin asks the harness to leave; 2 s later, or once it has, the whole group is
      // stopped (what the shell left behind included: SIGTERM, then SIGKILL to what still runs)
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.stdin?.end();
        });
      }
      await stop();
    },
  };
}

/**
 * Connects to a harness HTTP endpoint: each request is `POST url` with the JSON body; the reply is
 * the JSON body of an HTTP 200 (an `{error}` body is an error reply whatever its status; any other
 * status is a transport failure naming it, such as a wrong path answered by a framework's 404).
 * A body longer than {@link MAX_LINE_CHARS} bytes fails its request. Once a request times out,
 * every later one fails at once (the harness is given up on, as over stdio).
 */
export function connectHttpHarness(url: string, options: { timeoutMs?: number } = {}): HarnessConnection {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  // Set once a request timed out: the harness may still be working on it, and requests are
  // sequential (the reader's state carries from one to the next), so, as over stdio, the suite
  // gives up on it; a hung harness would otherwise cost the time limit once per condition.
  let gaveUp: string | undefined;
  return {
    label: url,
    async request(message) {
      if (gaveUp !== undefined) throw new Error(gaveUp);
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(message),
          signal: AbortSignal.timeout(timeoutMs),
        });
        // bounded: an endless body must fail the request, not fill the suite's memory
        text = await readBodyText(res);
      } catch (error) {
        const e = error as Error & { cause?: unknown };
        if (e.name === 'TimeoutError') {
          gaveUp = `harness did not answer "${message.op}" within ${timeoutMs} ms`;
          throw new Error(gaveUp);
        }
        if (e instanceof BodyTooLargeError) {
          throw new Error(`harness answered "${message.op}" with ${e.message}`);
        }
        const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
        throw new Error(`harness at ${url} unreachable: ${e.message}${cause}`);
      }
      let reply: unknown;
      try {
        reply = JSON.parse(text);
      } catch {
        throw new Error(
          `harness answered HTTP ${res.status} to "${message.op}" with a body that is not JSON: ${text.slice(0, 200)}`,
        );
      }
      if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) {
        throw new Error(`harness answered HTTP ${res.status} with JSON that is not an object`);
      }
      if (res.status !== 200 && typeof (reply as HarnessReply).error !== 'string') {
        throw new Error(
          `harness answered HTTP ${res.status} to "${message.op}" at ${url}: ${text.slice(0, 200)}`,
        );
      }
      // as over stdio: the reply names its request (a cache or a proxy could answer an earlier one),
      // or is an error reply with "id": null to a request the harness could not read
      const id = (reply as HarnessReply).id;
      if (id !== message.id && !(id === null && typeof (reply as HarnessReply).error === 'string')) {
        throw new Error(`reply id ${JSON.stringify(id)} does not match request id "${message.id}"`);
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
