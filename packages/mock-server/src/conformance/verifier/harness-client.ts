/**
 * A typed client over a {@link HarnessConnection}: request ids, reply validation, capabilities.
 *
 * @module
 */
import {
  type HarnessConnection,
  type HarnessOptions,
  type HarnessReader,
  type HarnessReply,
  type HarnessRequest,
  isAnchoredRootKey,
  type RootKey,
} from './protocol.js';

/** The outcome of a `load`. */
export interface LoadOutcome {
  readonly ok: boolean;
  readonly reason: string | null;
}

/** The outcome of a `verify`. */
export interface VerifyOutcome {
  readonly accepted: boolean;
  readonly reason: string | null;
  readonly warnings: readonly string[];
}

/** A harness answered with `{error}` or with a reply of the wrong shape. */
export class HarnessProtocolError extends Error {
  override readonly name = 'HarnessProtocolError';
}

/** The default reader of scans. */
export const DEFAULT_READER: HarnessReader = { id: 'conformance-reader' };

type Body<R> = R extends HarnessRequest ? Omit<R, 'id'> : never;

/** The verifier plan's view of the product. */
export class HarnessClient {
  #next = 1;
  /** Capabilities declared by `hello` (empty until {@link hello}). */
  capabilities: ReadonlySet<string> = new Set();
  /** What `hello` said, for the report. */
  product: Record<string, unknown> = {};

  constructor(readonly connection: HarnessConnection) {}

  async #send(body: Body<HarnessRequest>): Promise<HarnessReply> {
    const request = { id: String(this.#next++), ...body } as HarnessRequest;
    const reply = await this.connection.request(request);
    if (typeof reply.error === 'string') {
      throw new HarnessProtocolError(`harness error on "${request.op}": ${reply.error}`);
    }
    return reply;
  }

  /** Asks what the harness is. A harness that does not know `hello` declares no capability. */
  async hello(): Promise<void> {
    try {
      const r = await this.#send({ op: 'hello' });
      const caps = Array.isArray(r.capabilities) ? r.capabilities.filter((c) => typeof c === 'string') : [];
      this.capabilities = new Set(caps as string[]);
      this.product = {
        ...(typeof r.name === 'string' ? { name: r.name } : {}),
        ...(typeof r.version === 'string' ? { version: r.version } : {}),
        capabilities: [...this.capabilities],
      };
    } catch (error) {
      if (!(error instanceof HarnessProtocolError)) throw error;
      this.capabilities = new Set();
      this.product = { capabilities: [] };
    }
  }

  /**
   * A fresh reader with these trust anchors and options. Root keys as `{ jwk, authority }` go only to
   * a harness that declared the capability `authorities`: a module that would send them to another
   * is a bug of the suite (an `Error`, before anything is sent).
   */
  async reset(rootKeys: readonly RootKey[], options: HarnessOptions = {}): Promise<void> {
    if (rootKeys.some(isAnchoredRootKey) && !this.capabilities.has('authorities')) {
      throw new Error(
        'reset: root keys with an authority sent to a harness without the "authorities" capability',
      );
    }
    const r = await this.#send({ op: 'reset', rootKeys, options });
    if (r.ok !== true) throw new HarnessProtocolError('reset: reply without "ok": true');
  }

  /** Loads trust material (hex) at device time `now`. */
  async load(kind: 'trustList' | 'statusList' | 'roster', hex: string, now: number): Promise<LoadOutcome> {
    const r = await this.#send({ op: 'load', kind, hex, now });
    if (typeof r.ok !== 'boolean') throw new HarnessProtocolError('load: reply without a boolean "ok"');
    return { ok: r.ok, reason: typeof r.reason === 'string' ? r.reason : null };
  }

  /** Loads material that must be accepted (scenario setup). */
  async mustLoad(kind: 'trustList' | 'statusList' | 'roster', hex: string, now: number): Promise<void> {
    const r = await this.load(kind, hex, now);
    if (!r.ok) throw new Error(`setup: the reader refused a valid ${kind} (${r.reason ?? 'no reason'})`);
  }

  /** Scans `qr` at `now`. */
  async verify(qr: string, now: number, reader: HarnessReader = DEFAULT_READER): Promise<VerifyOutcome> {
    const r = await this.#send({ op: 'verify', qr, now, reader });
    if (typeof r.accepted !== 'boolean')
      throw new HarnessProtocolError('verify: reply without a boolean "accepted"');
    const reason = typeof r.reason === 'string' ? r.reason : null;
    if (!r.accepted && reason === null) throw new HarnessProtocolError('verify: a denial without a "reason"');
    const warnings = Array.isArray(r.warnings)
      ? r.warnings.filter((w): w is string => typeof w === 'string')
      : [];
    return { accepted: r.accepted, reason, warnings };
  }

  /** The persisted state (base64). */
  async snapshot(now: number): Promise<string> {
    const r = await this.#send({ op: 'snapshot', now });
    if (typeof r.state !== 'string')
      throw new HarnessProtocolError('snapshot: reply without a string "state"');
    return r.state;
  }

  /** A reboot with `state`. */
  async restore(state: string, now: number): Promise<void> {
    const r = await this.#send({ op: 'restore', state, now });
    if (r.ok !== true) throw new HarnessProtocolError('restore: reply without "ok": true');
  }
}

/** Describes a verify outcome for messages: `accepted` or `denied (REASON)`. */
export function describe(o: VerifyOutcome): string {
  return o.accepted ? 'accepted' : `denied (${o.reason})`;
}
