/**
 * Bounded line and body readers for what a product under test writes: a harness or device that
 * floods stdout without a line break, or an HTTP harness that streams an endless body, must fail
 * its request, not grow one string until the suite runs out of memory (a `RangeError: Invalid
 * string length` thrown in a stream handler ends the whole run with a stack trace and no report).
 *
 * @module
 */
import type { Readable } from 'node:stream';

/**
 * The longest line (and HTTP body) the suite takes from a product, in characters: 16 MiB, far
 * above any reply of the protocols (a `snapshot` state included) and far below what node can hold
 * in one string.
 */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Default {@link MAX_LINE_CHARS}. */
  readonly maxChars?: number;
  /**
   * Called once for each line longer than `maxChars`, with its first 200 characters. The line
   * is dropped up to its line break (not kept, not passed to `onLine`).
   */
  readonly onTooLong?: (head: string) => void;
}

/**
 * Calls `onLine` with each line of `stream` (UTF-8; `\n` or `\r\n` ends a line; a last line
 * without a line break is passed at the end of the stream). Never holds more than `maxChars` of
 * one line: a longer one is reported to `onTooLong` and skipped.
 */
export function readLines(
  stream: Readable,
  onLine: (line: string) => void,
  options: ReadLinesOptions = {},
): void {
  const max = options.maxChars ?? MAX_LINE_CHARS;
  let rest = '';
  /** Inside a line that was too long: everything up to the next line break is dropped. */
  let skipping = false;
  const head = (more: string) => (rest.slice(0, 200) + more).slice(0, 200);
  const emit = (line: string) => onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', from);
      if (nl === -1) break;
      if (skipping) skipping = false;
      else if (rest.length + nl - from > max)
        options.onTooLong?.(head(chunk.slice(from, Math.min(nl, from + 200))));
      else emit(rest + chunk.slice(from, nl));
      rest = '';
      from = nl + 1;
    }
    if (skipping) return;
    if (rest.length + chunk.length - from > max) {
      options.onTooLong?.(head(chunk.slice(from, from + 200)));
      rest = '';
      skipping = true;
      return;
    }
    rest += chunk.slice(from);
  });
  stream.on('end', () => {
    if (!skipping && rest !== '') emit(rest);
    rest = '';
  });
}

/**
 * The text of an HTTP response body, read up to `maxChars` bytes.
 *
 * @throws `Error` naming the limit when the body is longer (the rest is not read: the body is
 * cancelled).
 */
export async function readBodyText(res: Response, maxChars = MAX_LINE_CHARS): Promise<string> {
  if (res.body === null) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxChars) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(maxChars);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An HTTP body longer than the suite takes. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  /** The limit, bytes. */
  readonly limit: number;

  constructor(limit: number) {
    super(`a body longer than ${limit} bytes`);
    this.limit = limit;
  }
}
