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
import { createGateClient, type GateClient, type GateClientOptions } from '@campus-card/gate-client';
import { createVerifier, type Verifier } from '@campus-card/verifier';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
}

/**
 * Seams for the conformance suite's deliberately broken variants (test fixtures); the reference
 * gate uses none of them.
 */
export interface GateDeviceVariant {
  /** Wraps the verifier before the gate client gets it. */
  readonly wrapVerifier?: (verifier: Verifier) => Verifier;
  /** Transport tuning of the gate client. */
  readonly transport?: GateClientOptions['transport'];
  /** Runs after a failed upload attempt, with the gate client closed; the client is then reopened. */
  readonly afterFailedFlush?: (dataDir: string) => Promise<void>;
}

/** Runs the gate on stdin/stdout until stdin ends. */
export async function runGateDevice(variant: GateDeviceVariant = {}): Promise<void> {
  const deviceId = env('DEVICE_ID');
  const dataDir = env('DATA_DIR');
  const open = async (): Promise<GateClient> => {
    const roots = (JSON.parse(env('ROOT_KEYS')) as unknown[]).map((k) => importPublicJwk(k));
    // several roots (a rotation) each anchor the school's own lists only (token format §3)
    const schoolId = env('SCHOOL_ID');
    const verifier = createVerifier({
      rootKeys: roots.length === 1 ? roots : roots.map((key) => ({ key, authority: schoolId })),
    });
    return createGateClient({
      baseUrl: env('PLATFORM_URL'),
      deviceId,
      schoolId: env('SCHOOL_ID'),
      privateKey: JSON.parse(env('DEVICE_KEY')) as Jwk,
      verifier: variant.wrapVerifier === undefined ? verifier : variant.wrapVerifier(verifier),
      dataDir,
      transport: variant.transport ?? { retryBaseMs: 50, retryMaxMs: 200 },
    });
  };
  let gate = await open();
  const reader = { id: deviceId, zone: 'gate:main', direction: 'in' } as const;

  for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
    if (line.trim() === '') continue;
    let m: { id: string; op: string; qr?: string };
    try {
      m = JSON.parse(line) as typeof m;
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new TypeError('not an object');
    } catch {
      // a line that is not a command is answered, not fatal: the gate keeps serving
      process.stdout.write(
        `${JSON.stringify({ id: null, error: 'not a command: a JSON object per line' })}\n`,
      );
      continue;
    }
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
          if (!ok && variant.afterFailedFlush !== undefined) {
            await gate.close();
            await variant.afterFailedFlush(dataDir);
            gate = await open();
          }
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
}

if (process.env.CAMPUS_CARD_GATE_DEVICE_LIBRARY !== '1') {
  runGateDevice().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  });
}
