/**
 * Progress on a terminal: one updating line per running module on a TTY (`\r` rewrites), plain
 * lines per module otherwise.
 *
 * @module
 */
import type { ConditionStatus, ProgressEvent } from './model.js';

/** Where progress goes. */
export interface ProgressSink {
  write(text: string): void;
  readonly isTTY?: boolean | undefined;
}

const MARK: Readonly<Record<ConditionStatus, string>> = {
  PASSED: 'ok',
  FAILED: 'FAIL',
  WARNING: 'warn',
  SKIPPED: 'skip',
};

const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * `s` with its control characters (C0, DEL, C1, line and paragraph separators) shown escaped: what
 * a product wrote (a reason, an error message, its stderr) cannot move the cursor, erase the line
 * of its own failure or colour the log.
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    const c = ch.charCodeAt(0);
    return NAMED[ch] ?? (c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16)}`);
  });
}

/** `n` and the noun, plural unless `n` is 1: `1 module`, `2 modules`, `0 warnings`. */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** Creates a progress listener writing to `sink` (usually `process.stderr`). */
export function createProgressPrinter(sink: ProgressSink): (event: ProgressEvent) => void {
  const tty = sink.isTTY === true;
  let done = 0;
  let modules = 0;
  let moduleIndex = 0;
  return (e) => {
    switch (e.type) {
      case 'plan-start':
        modules = e.modules;
        sink.write(`plan ${printable(e.plan)}: ${plural(e.modules, 'module')}\n`);
        break;
      case 'module-start':
        moduleIndex = e.index + 1;
        done = 0;
        if (tty) sink.write(`\r\x1b[2K  [${moduleIndex}/${modules}] ${printable(e.module)} …`);
        break;
      case 'condition':
        done += 1;
        if (tty)
          sink.write(
            `\r\x1b[2K  [${moduleIndex}/${modules}] ${printable(e.module)} ${done}: ${printable(e.result.id)}`,
          );
        break;
      case 'module-end': {
        const r = e.result;
        const bad = r.conditions.filter((c) => c.status === 'FAILED' || c.status === 'WARNING');
        sink.write(
          `${tty ? '\r\x1b[2K' : ''}  ${MARK[r.status].padEnd(4)} ${printable(r.id)} (${plural(r.conditions.length, 'condition')}, ${r.durationMs} ms)\n`,
        );
        for (const c of bad) {
          const tag = c.expectedFailure === undefined ? c.status : 'EXPECTED FAILURE';
          sink.write(`       ${tag} ${printable(c.id)}: ${printable(c.message ?? '')}\n`);
        }
        break;
      }
      case 'plan-end': {
        const c = e.result.counts;
        sink.write(
          `plan ${printable(e.result.plan)}: ${e.result.status} (${c.PASSED} passed, ${c.FAILED} failed, ${plural(c.WARNING, 'warning')}, ${c.SKIPPED} skipped, ${plural(c.expectedFailures, 'expected failure')}) in ${(e.result.durationMs / 1000).toFixed(1)} s\n`,
        );
        break;
      }
    }
  };
}
