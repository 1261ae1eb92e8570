/**
 * Launching a device under test: a command run through the shell with the platform's coordinates
 * in its environment.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readLines } from '../lines.js';
import { spawnInGroup } from '../process-groups.js';

/** A launched device. */
export interface LaunchedDevice {
  readonly child: ChildProcess;
  /** The last lines the device wrote to stderr (for messages). */
  stderrTail(): string;
  /** Resolves with the exit code (or the signal name) once the device exits. */
  readonly exited: Promise<number | string>;
  /** Stops the device and whatever it started (SIGTERM, then SIGKILL to what still runs after 2 s). */
  stop(): Promise<void>;
}

/**
 * Launches `command` with `env` added to the suite's environment. `onLine` gets each line the
 * device writes to stdout (otherwise stdout is discarded); a line longer than `MAX_LINE_CHARS`
 * (`../lines.ts`) is dropped.
 */
export function launchDevice(
  command: string,
  env: Readonly<Record<string, string>>,
  onLine?: (line: string) => void,
): LaunchedDevice {
  // Its own process group: the shell may not exec the command, and a signal to the shell alone
  // would leave the device running (listening on its port) after the suite is done.
  const { child, stop } = spawnInGroup(command, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() === '') continue;
      tail.push(line.trim());
      if (tail.length > 5) tail.shift();
    }
  });
  if (onLine === undefined) child.stdout?.resume();
  else if (child.stdout) {
    // bounded: a line longer than MAX_LINE_CHARS (a flood without a line break) is dropped, where
    // holding it whole would end the suite (node's longest string) instead of failing the device
    readLines(child.stdout, (line) => {
      if (line.trim() !== '') onLine(line.trim());
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.on('error', (e) => resolve(`error: ${e.message}`));
  });
  return {
    child,
    exited,
    stderrTail: () => tail.join(' | '),
    async stop() {
      // the whole group, the shell's leftovers included: SIGTERM, SIGKILL to what still runs after 2 s
      await stop();
      if (child.pid !== undefined) await exited;
    },
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `url` answers any HTTP response, or the device exits, or `timeoutMs` passes. */
export async function waitForHttp(url: string, device: LaunchedDevice, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | undefined;
  void device.exited.then((c) => {
    gone = c;
  });
  while (Date.now() < deadline) {
    if (gone !== undefined)
      throw new Error(`the device exited (${gone}) before listening; stderr: ${device.stderrTail()}`);
    try {
      await fetch(url, { method: 'GET', signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(
    `the device did not listen on ${url} within ${timeoutMs} ms; stderr: ${device.stderrTail()}`,
  );
}
