/**
 * The reference gate (examples/reference-gate) driven over stdin, as the conformance suite drives
 * it: a line that is not a command gets an error reply, and the gate keeps serving.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

let data: ReturnType<typeof tempDir>;
beforeEach(() => {
  data = tempDir();
});
afterEach(() => data.cleanup());

it('answers a line that is not a JSON command with an error, and goes on', () => {
  const r = spawnSync(process.execPath, ['examples/reference-gate/run.mjs', 'gate-device.ts'], {
    cwd: ROOT,
    input: 'not json\n[]\n{"id":"2","op":"nope"}\n',
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      PLATFORM_URL: 'http://127.0.0.1:9',
      DEVICE_ID: 'gate-01',
      SCHOOL_ID: 'sch-demo',
      DEVICE_KEY: JSON.stringify(exportJwk(generateKeyPair('ES256').privateKey, { includePrivate: true })),
      ROOT_KEYS: JSON.stringify([exportJwk(generateKeyPair('ES256').publicKey)]),
      DATA_DIR: data.dir,
    },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const replies = r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(replies).toEqual([
    { id: null, error: expect.stringMatching(/not a command/) },
    { id: null, error: expect.stringMatching(/not a command/) },
    { id: '2', error: 'unknown op nope' },
  ]);
}, 90_000);
