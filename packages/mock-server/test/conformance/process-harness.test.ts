import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { launchDevice } from '../../src/conformance/devices/launch.js';
import { MAX_LINE_CHARS } from '../../src/conformance/lines.js';
import { connectProcessHarness } from '../../src/conformance/verifier/connections.js';
import type { HarnessRequest } from '../../src/conformance/verifier/protocol.js';
import { testDir } from '../helpers.js';

/** A harness script (an ES module run by this Node) running `body` for each request `m`, one at a time. */
function harness(body: string): string {
  const file = join(testDir('process-harness-'), 'harness.mjs');
  writeFileSync(
    file,
    `import { createInterface } from 'node:readline';
const say = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let n = 0;
let done = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  done = done.then(async () => {
    const m = JSON.parse(line);
    n += 1;
    ${body}
  });
});
`,
  );
  return `"${process.execPath}" "${file}"`;
}

const verify = (id: string): HarnessRequest => ({
  id,
  op: 'verify',
  qr: 'CC1:X',
  now: 0,
  reader: { id: 'r' },
});

describe('a process harness that writes something else than its reply on stdout', () => {
  it('fails the request it garbled, and the late reply does not shift the next ones', async () => {
    // request 1: a log line on stdout, then (a moment later) its reply; then every reply is correct
    const conn = connectProcessHarness(
      harness(`if (n === 1) { process.stdout.write('DEBUG verifying\\n'); await sleep(300); }
  say({ id: m.id, accepted: false, reason: 'BAD_FORMAT' });`),
      { timeoutMs: 5000 },
    );
    try {
      await expect(conn.request(verify('1'))).rejects.toThrow(
        'harness wrote a line that is not JSON: DEBUG verifying',
      );
      await expect(conn.request(verify('2'))).resolves.toMatchObject({ id: '2', accepted: false });
      await expect(conn.request(verify('3'))).resolves.toMatchObject({ id: '3' });
    } finally {
      await conn.close();
    }
  });

  it('a reply with another id fails its request only', async () => {
    const conn = connectProcessHarness(
      harness(`if (n === 1) { say({ id: 'nope', accepted: true, reason: null }); await sleep(300); }
  say({ id: m.id, accepted: false, reason: 'BAD_FORMAT' });`),
      { timeoutMs: 5000 },
    );
    try {
      await expect(conn.request(verify('1'))).rejects.toThrow(
        'reply id "nope" does not match request id "1"',
      );
      await expect(conn.request(verify('2'))).resolves.toMatchObject({ id: '2' });
      await expect(conn.request(verify('3'))).resolves.toMatchObject({ id: '3' });
    } finally {
      await conn.close();
    }
  });
});

describe('error replies', () => {
  it('an error reply with "id": null (a request the harness could not read) is its error, not an id mismatch', async () => {
    const conn = connectProcessHarness(harness(`say({ id: null, error: 'cannot parse the request' });`), {
      timeoutMs: 5000,
    });
    try {
      await expect(conn.request(verify('1'))).resolves.toEqual({
        id: null,
        error: 'cannot parse the request',
      });
    } finally {
      await conn.close();
    }
  });
});

/** A command writing `x` to stdout forever, never a line break. */
const FLOOD = `"${process.execPath}" -e "const b = Buffer.alloc(1 << 20, 120); (function w() { while (process.stdout.write(b)); process.stdout.once('drain', w); })()"`;

describe('a process harness that floods stdout without a line break', () => {
  it('fails the request and gives up on the harness, instead of ending the suite (node string limit)', async () => {
    const conn = connectProcessHarness(FLOOD, { timeoutMs: 60_000 });
    try {
      await expect(conn.request(verify('1'))).rejects.toThrow(
        `harness wrote a line longer than ${MAX_LINE_CHARS} characters on stdout: xxxx`,
      );
      await expect(conn.request(verify('2'))).rejects.toThrow('longer than');
    } finally {
      await conn.close();
    }
  }, 90_000);
});

describe('a device (launchDevice) that floods stdout without a line break', () => {
  it('drops the overlong line and still reads the lines after it', async () => {
    // 700 MiB without a line break (more than node's longest string), then a line, then exit 0
    const script = join(testDir('launch-flood-'), 'flood.mjs');
    writeFileSync(
      script,
      `const b = Buffer.alloc(1 << 20, 120);
let left = 700;
(function w() {
  while (left > 0) { left -= 1; if (!process.stdout.write(b)) return process.stdout.once('drain', w); }
  process.stdout.write('\\n{"out_trade_no":"A","status":"offline_accepted"}\\n');
})();
`,
    );
    const lines: string[] = [];
    const device = launchDevice(`"${process.execPath}" "${script}"`, {}, (line) => lines.push(line));
    try {
      expect(await device.exited).toBe(0);
      // the last line may still be in the pipe when the exit is seen
      await new Promise<void>((resolve) =>
        device.child.stdout?.readableEnded ? resolve() : device.child.stdout?.once('end', resolve),
      );
      expect(lines).toEqual(['{"out_trade_no":"A","status":"offline_accepted"}']);
    } finally {
      await device.stop();
    }
  }, 120_000);
});
