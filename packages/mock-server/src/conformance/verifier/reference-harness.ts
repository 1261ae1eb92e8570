/**
 * The reference verifier harness: the harness protocol implemented on `@campus-card/verifier`.
 * It is the suite's `builtin` target, and `examples/verifier-harness` runs it as a JSON-lines
 * command. It depends only on `@campus-card/core` and `@campus-card/verifier`, so a vendor can
 * read it as a worked example of the protocol.
 *
 * @module
 */
import { fromHex, importPublicJwk, type PublicKey, type TrustAnchor } from '@campus-card/core';
import {
  createVerifier,
  type LoadResult,
  type ReaderContext,
  type Verifier,
  type VerifierOptions,
} from '@campus-card/verifier';
import type { HarnessHandler } from './connections.js';
import {
  type HarnessOptions,
  type HarnessReply,
  type HarnessRequest,
  isAnchoredRootKey,
  type RootKey,
} from './protocol.js';

/** Options of {@link createReferenceHarness}. */
export interface ReferenceHarnessOptions {
  /**
   * Makes the verifier behind the harness. Default `createVerifier` of `@campus-card/verifier`. The
   * suite's own tests pass deliberately broken verifiers here.
   */
  readonly createVerifier?: (options: VerifierOptions) => Verifier;
  /** The name reported by `hello`. */
  readonly name?: string;
}

/**
 * The root keys of `reset` as the verifier takes them: a bare JWK as a public key, `{ jwk, authority }`
 * as a `TrustAnchor` (the verifier refuses a bare key among several, and an authority that is not 1
 * to 64 characters: the `TypeError` becomes an error reply).
 */
function toRootKeys(rootKeys: readonly RootKey[]): (PublicKey | TrustAnchor)[] {
  if (!Array.isArray(rootKeys)) throw new TypeError('"rootKeys" must be an array');
  return rootKeys.map((k: RootKey) =>
    isAnchoredRootKey(k) ? { key: importPublicJwk(k.jwk), authority: k.authority } : importPublicJwk(k),
  );
}

function toVerifierOptions(
  rootKeys: readonly (PublicKey | TrustAnchor)[],
  o: HarnessOptions,
): VerifierOptions {
  const opts: { -readonly [K in keyof VerifierOptions]: VerifierOptions[K] } = { rootKeys };
  if (o.maxAge !== undefined) opts.maxAge = o.maxAge;
  if (o.maxFuture !== undefined) opts.maxFuture = o.maxFuture;
  if (o.clockSkew !== undefined) opts.clockSkew = o.clockSkew;
  if (o.floorTolerance !== undefined) opts.floorTolerance = o.floorTolerance;
  if (o.maxFutureSignedTime !== undefined) opts.maxFutureSignedTime = o.maxFutureSignedTime;
  if (o.maxStaleness !== undefined) {
    const m = o.maxStaleness;
    opts.maxStaleness = {
      ...(m.trustList === undefined ? {} : { trustList: m.trustList }),
      ...(m.statusList === undefined ? {} : { statusList: m.statusList }),
      ...(m.roster === undefined ? {} : { roster: m.roster }),
    };
  }
  // holding version N means N itself (with other bytes) is a rollback too
  if (o.heldTrustListVersion !== undefined) opts.minTrustListVersion = o.heldTrustListVersion + 1;
  return opts;
}

function loadReply(id: string, r: LoadResult): HarnessReply {
  return r.ok ? { id, ok: true, reason: null } : { id, ok: false, reason: r.reason };
}

/**
 * Creates the reference harness: a function from a protocol request to its reply. It never
 * throws: a bad message gets an `{ id, error }` reply.
 *
 * @example
 * ```ts
 * const harness = createReferenceHarness();
 * await harness({ id: '1', op: 'reset', rootKeys: [rootJwk], options: {} });
 * // or, several root keys each bound to its authority (capability `authorities`):
 * // rootKeys: [{ jwk: platformJwk, authority: 'platform' }, { jwk: schoolJwk, authority: '10001' }]
 * await harness({ id: '2', op: 'load', kind: 'trustList', hex, now });
 * const reply = await harness({ id: '3', op: 'verify', qr, now, reader: { id: 'gate-1' } });
 * ```
 */
export function createReferenceHarness(options: ReferenceHarnessOptions = {}): HarnessHandler {
  const make = options.createVerifier ?? createVerifier;
  let config: VerifierOptions | undefined;
  let verifier: Verifier | undefined;

  async function handle(m: HarnessRequest): Promise<HarnessReply> {
    const id = m.id;
    switch (m.op) {
      case 'hello':
        // createVerifier evaluates `reader.policy` (ReaderPolicy JSON) with its own passback state,
        // and takes root keys bound to their authorities (one trust list per authority)
        return {
          id,
          name: options.name ?? '@campus-card/verifier reference harness',
          capabilities: ['snapshot', 'policies', 'authorities'],
        };
      case 'reset': {
        // a refused configuration (an error reply) leaves no reader behind: later requests get
        // "reset first", never the previous reader's answers
        config = undefined;
        verifier = undefined;
        const next = toVerifierOptions(toRootKeys(m.rootKeys), m.options ?? {});
        verifier = make(next);
        config = next;
        return { id, ok: true };
      }
      case 'load': {
        if (verifier === undefined) return { id, error: 'reset first' };
        const bytes = fromHex(m.hex);
        if (bytes === undefined) return { id, ok: false, reason: 'BAD_FORMAT' };
        const at = { now: m.now };
        if (m.kind === 'trustList') return loadReply(id, verifier.loadTrustList(bytes, at));
        if (m.kind === 'statusList') return loadReply(id, verifier.loadStatusList(bytes, at));
        if (m.kind === 'roster') return loadReply(id, verifier.loadRoster(bytes, at));
        return { id, error: `unknown material kind ${JSON.stringify(m.kind)}` };
      }
      case 'verify': {
        if (verifier === undefined) return { id, error: 'reset first' };
        const d = await verifier.verify(m.qr, { now: m.now, reader: m.reader as ReaderContext });
        return d.accepted
          ? { id, accepted: true, reason: null, warnings: [...d.warnings] }
          : { id, accepted: false, reason: d.reason };
      }
      case 'snapshot': {
        if (verifier === undefined) return { id, error: 'reset first' };
        return { id, state: Buffer.from(verifier.snapshot({ now: m.now })).toString('base64') };
      }
      case 'restore': {
        if (config === undefined) return { id, error: 'reset first' };
        verifier = make(config); // a reboot: a new reader, no material, the persisted state
        verifier.restore(new Uint8Array(Buffer.from(m.state, 'base64')), { now: m.now });
        return { id, ok: true };
      }
      default:
        return { id: id ?? null, error: `unknown op ${JSON.stringify((m as { op?: unknown }).op)}` };
    }
  }

  return async (m) => {
    try {
      return await handle(m);
    } catch (error) {
      return { id: m?.id ?? null, error: error instanceof Error ? error.message : String(error) };
    }
  };
}
