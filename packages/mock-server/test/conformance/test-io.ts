/**
 * Helpers shared by the conformance CLI and process tests.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** An `io` for the conformance CLI's `main` that keeps what it writes. */
export function captureIo() {
  const out = { stdout: '', stderr: '' };
  const sink = (to: 'stdout' | 'stderr') => ({
    write(s: string) {
      out[to] += s;
      return true;
    },
  });
  return { out, io: { stdout: sink('stdout'), stderr: sink('stderr') } };
}

/** Whether `pid` runs: exists and is not a zombie (a container's init may be slow to reap orphans). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}
