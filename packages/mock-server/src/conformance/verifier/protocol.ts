/**
 * The verifier harness protocol: how the suite talks to a vendor's verifier, in any language.
 *
 * Transport: a command that reads one JSON object per line on stdin and writes exactly one JSON
 * object per line on stdout for each request, in order (stderr is free for logs); or an HTTP
 * endpoint that takes each request as a JSON `POST` body and answers with the reply as JSON.
 * Every request has an `id` (echoed in the reply) and an `op`. See `docs/guides/conformance.md`.
 *
 * @module
 */

/** A public key as a JWK (RFC 7517): `{kty:'EC',crv:'P-256',x,y}` or `{kty:'OKP',crv:'Ed25519',x}`. */
export type JwkObject = Readonly<Record<string, unknown>>;

/**
 * A root key bound to the one authority whose trust lists it may sign (token-format §3; core's
 * `TrustAnchor`): `authority` is `"platform"` or a school id, 1 to 64 characters. The suite sends
 * it only to a harness that declares the capability `authorities`.
 */
export interface AnchoredRootKey {
  /** The root public key. */
  readonly jwk: JwkObject;
  /** The only `authority` a trust list this key verifies may state: `"platform"` or a school id. */
  readonly authority: string;
}

/**
 * A root key at `reset`: a bare JWK (it anchors whatever authority its trust lists state; the only
 * form before the capability `authorities`, and still what a single root key is sent as), or an
 * {@link AnchoredRootKey}. An object with a `jwk` member is the latter; a JWK never has one.
 */
export type RootKey = JwkObject | AnchoredRootKey;

/** Whether a root key of `reset` is an {@link AnchoredRootKey} (it has a `jwk` member). */
export function isAnchoredRootKey(k: RootKey): k is AnchoredRootKey {
  return typeof k === 'object' && k !== null && 'jwk' in k;
}

/** Reader options the suite sets at `reset`. All durations are seconds. */
export interface HarnessOptions {
  /** Oldest accepted code: `t ≥ now − maxAge` (token-format §7.2). Default 90. */
  readonly maxAge?: number;
  /** Newest accepted code: `t ≤ now + maxFuture`. Default 30. */
  readonly maxFuture?: number;
  /** Tolerance for a credential `iat` ahead of `now` (§4). Default 30. */
  readonly clockSkew?: number;
  /** Maximum age of each material, from its signed `iat` (issue 7 §1). */
  readonly maxStaleness?: {
    readonly trustList?: number;
    readonly statusList?: number;
    readonly roster?: number;
  };
  /** How far the clock may read below the trusted-time floor (issue 7 §2). Default 300. */
  readonly floorTolerance?: number;
  /** A signed time further ahead of the clock than this never moves the floor. Default 300. */
  readonly maxFutureSignedTime?: number;
  /**
   * The trust list version the reader already holds (vector field `heldTrustListVersion`): a list of
   * this version or lower is a rollback.
   */
  readonly heldTrustListVersion?: number;
}

/** The reader a scan happens at (passed through to the verifier's policy engine). */
export interface HarnessReader {
  readonly id: string;
  /** A reader policy (the verifier package's JSON policy format), if any. */
  readonly policy?: unknown;
  readonly direction?: 'in' | 'out';
  readonly zone?: string;
}

/** `hello`: what the harness is. Optional for a harness: an error reply means "no capabilities". */
export interface HelloRequest {
  readonly id: string;
  readonly op: 'hello';
}
/**
 * `reset`: forget everything; a new reader with these trust anchors and options.
 *
 * `rootKeys` is either one bare JWK (every harness), or, to a harness that declares the capability
 * `authorities`, several {@link AnchoredRootKey}s `{ jwk, authority }` (token-format §3: a reader
 * holding several root keys binds each to its authority). Bare JWKs were the only form before that
 * capability; the suite never mixes the two.
 */
export interface ResetRequest {
  readonly id: string;
  readonly op: 'reset';
  readonly rootKeys: readonly RootKey[];
  readonly options: HarnessOptions;
}
/** `load`: the reader receives trust material (hex of the signed CBOR bytes) at device time `now`. */
export interface LoadRequest {
  readonly id: string;
  readonly op: 'load';
  readonly kind: 'trustList' | 'statusList' | 'roster';
  readonly hex: string;
  readonly now: number;
}
/** `verify`: a scan of QR text at device time `now` (unix seconds) at `reader`. */
export interface VerifyRequest {
  readonly id: string;
  readonly op: 'verify';
  readonly qr: string;
  readonly now: number;
  readonly reader: HarnessReader;
}
/** `snapshot`: the state the reader persists across a reboot (capability `snapshot`). */
export interface SnapshotRequest {
  readonly id: string;
  readonly op: 'snapshot';
  readonly now: number;
}
/**
 * `restore`: a reboot. The harness drops its reader, makes a new one with the last `reset`'s
 * configuration and **no** trust material, and restores `state` into it. The suite then reloads the
 * material, as a device reloads it from its disk.
 */
export interface RestoreRequest {
  readonly id: string;
  readonly op: 'restore';
  readonly state: string;
  readonly now: number;
}

/** Any request. */
export type HarnessRequest =
  | HelloRequest
  | ResetRequest
  | LoadRequest
  | VerifyRequest
  | SnapshotRequest
  | RestoreRequest;

/**
 * Optional capabilities a harness declares in its `hello` reply: `snapshot` (the `snapshot` and
 * `restore` ops), `policies` (`reader.policy` is evaluated), `authorities` (`reset` takes root keys
 * as `{ jwk, authority }`, and the reader holds one trust list per authority: token-format §3).
 */
export type HarnessCapability = 'snapshot' | 'policies' | 'authorities';

/** Reply to `hello`. */
export interface HelloReply {
  readonly id: string;
  readonly name?: string;
  readonly version?: string;
  readonly capabilities?: readonly string[];
}
/** Reply to `reset` and `restore`. */
export interface OkReply {
  readonly id: string;
  readonly ok: true;
}
/** Reply to `load`: `ok`, or refused with a reason (`ROLLBACK`, `BAD_SIGNATURE`, `BAD_FORMAT`, …). */
export interface LoadReply {
  readonly id: string;
  readonly ok: boolean;
  readonly reason?: string | null;
}
/**
 * Reply to `verify`: `accepted`, or denied with a reason code of `@campus-card/verifier`
 * (`BAD_FORMAT`, `BAD_SIGNATURE`, `REPLAYED`, `REVOKED`, `CLOCK_BEFORE_FLOOR`, …). `warnings` lists
 * staleness warnings on an accepted decision.
 */
export interface VerifyReply {
  readonly id: string;
  readonly accepted: boolean;
  readonly reason: string | null;
  readonly warnings?: readonly string[];
}
/** Reply to `snapshot`: the state, base64. */
export interface SnapshotReply {
  readonly id: string;
  readonly state: string;
}
/** Any failure to handle a request (unknown op, unsupported capability, bad message). */
export interface ErrorReply {
  readonly id: string | null;
  readonly error: string;
}

/** Any reply, as parsed JSON. */
export type HarnessReply = Readonly<Record<string, unknown>> & { readonly id?: unknown };

/** A connection to a harness: one reply per request, in order. */
export interface HarnessConnection {
  /** Sends a request and resolves to its reply (rejects on transport failure or timeout). */
  request(message: HarnessRequest): Promise<HarnessReply>;
  /** Ends the harness (closes stdin, kills the process if it lingers). */
  close(): Promise<void>;
  /** A description for reports. */
  readonly label: string;
}
