/**
 * Reference gate for the conformance suite's `gate` plan, on `@campus-card/gate-client` and
 * `@campus-card/verifier`. The suite drives it with JSON lines on stdin (one reply line each on
 * stdout, `id` echoed):
 *
 * - `{"id","op":"sync"}` → `{"id","ok":true}`: fetch trust material now;
 * - `{"id","op":"scan","qr"}` → `{"id","accepted":bool,"reason":string|null}`;
 * - `{"id","op":"flush"}` → `{"id","ok":bool}`: upload recorded events now.
 *
 * Environment: `PLATFORM_URL`, `DEVICE_ID`, `DEVICE_KEY` (private JWK, JSON), `SCHOOL_ID`,
 * `ROOT_KEYS` (JSON array of the school's root public JWKs: configuration, never fetched),
 * `DATA_DIR`, `SCENARIO` (informational). It exits when stdin ends.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { importPublicJwk, type Jwk } from '@campus-card/core';
import { createGateClient } from '@campus-card/gate-client';
import { createVerifier } from '@campus-card/verifier';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

const deviceId = env('DEVICE_ID');
const gate = await createGateClient({
  baseUrl: env('PLATFORM_URL'),
  deviceId,
  schoolId: env('SCHOOL_ID'),
  privateKey: JSON.parse(env('DEVICE_KEY')) as Jwk,
  verifier: createVerifier({
    rootKeys: (JSON.parse(env('ROOT_KEYS')) as unknown[]).map((k) => importPublicJwk(k)),
  }),
  dataDir: env('DATA_DIR'),
  transport: { retryBaseMs: 50, retryMaxMs: 200 },
});
const reader = { id: deviceId, zone: 'gate:main', direction: 'in' } as const;

for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
  if (line.trim() === '') continue;
  const m = JSON.parse(line) as { id: string; op: string; qr?: string };
  let reply: Record<string, unknown>;
  try {
    if (m.op === 'sync') reply = { ok: (await gate.syncNow()).ok };
    else if (m.op === 'flush') {
      // retry a failed upload a few times, as the background loop would
      let ok = false;
      for (let i = 0; i < 5 && !ok; i++) {
        ok = await gate.flush().then(
          (r) => r.remaining === 0,
          () => false,
        );
      }
      reply = { ok };
    } else if (m.op === 'scan') {
      const { decision } = await gate.scan(m.qr ?? '', reader, { kind: 'access' });
      reply = { accepted: decision.accepted, reason: decision.accepted ? null : decision.reason };
    } else reply = { error: `unknown op ${m.op}` };
  } catch (error) {
    reply = { error: error instanceof Error ? error.message : String(error) };
  }
  process.stdout.write(`${JSON.stringify({ id: m.id, ...reply })}\n`);
}
await gate.close();
