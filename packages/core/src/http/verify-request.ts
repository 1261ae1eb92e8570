/**
 * RFC 9421 request verification with stable error codes.
 *
 * @module
 */
import { utf8 } from './bytes.js';
import { type ContentDigestStatus, checkContentDigest, type DigestFunction } from './content-digest.js';
import { type VerifyKey, verifyBytes } from './keys.js';
import { getHeader, type HttpRequestLike } from './message.js';
import { DEFAULT_COVERED_COMPONENTS } from './sign-request.js';
import { buildSignatureBase, type SignatureParams } from './signature-base.js';
import { isInnerList, parseDictionary, type SfDictionary, type SfInnerList } from './structured-fields.js';

/** Stable failure codes of {@link verifyRequest}. */
export type SignatureErrorCode =
  | 'ERR_SIG_MISSING'
  | 'ERR_SIG_MALFORMED'
  | 'ERR_SIG_UNKNOWN_KEY'
  | 'ERR_SIG_ALG_MISMATCH'
  | 'ERR_SIG_COMPONENT_MISSING'
  | 'ERR_SIG_EXPIRED'
  | 'ERR_SIG_NONCE_REPLAYED'
  | 'ERR_SIG_INVALID'
  | 'ERR_DIGEST_MISMATCH';

/** All {@link SignatureErrorCode} values, for exhaustive checks and docs. */
export const SIGNATURE_ERROR_CODES: readonly SignatureErrorCode[] = Object.freeze([
  'ERR_SIG_MISSING',
  'ERR_SIG_MALFORMED',
  'ERR_SIG_UNKNOWN_KEY',
  'ERR_SIG_ALG_MISMATCH',
  'ERR_SIG_COMPONENT_MISSING',
  'ERR_SIG_EXPIRED',
  'ERR_SIG_NONCE_REPLAYED',
  'ERR_SIG_INVALID',
  'ERR_DIGEST_MISMATCH',
]);

/** Default clock tolerance for `created`/`expires`, in seconds. */
export const DEFAULT_SIGNATURE_TOLERANCE_S = 300;

/** Looks up a verification key by `keyid`; return `undefined` for unknown keys. May be async. */
export type KeyLookup = (keyId: string) => VerifyKey | undefined | Promise<VerifyKey | undefined>;

/**
 * Records a nonce and reports whether it was fresh: return `false` when the nonce was already
 * seen for this key. Called only after the signature has verified. `expiresAt` is the Unix time
 * in seconds after which the nonce can be forgotten, as the signature no longer verifies then:
 * `created + tolerance`, or `expires + tolerance` when that is sooner or `created` is absent.
 */
export type NonceStore = (nonce: string, keyId: string, expiresAt: number) => boolean | Promise<boolean>;

/** Signature parameters that can be required by {@link VerifyRequestOptions.requiredParams}. */
export type SignatureParamName = keyof SignatureParams;

/** Options of {@link verifyRequest}. */
export interface VerifyRequestOptions {
  /** Key lookup by `keyid`. */
  readonly keyLookup: KeyLookup;
  /** Current time as a `Date` or milliseconds since the epoch (`Date.now()` style). Required: no hidden clock. */
  readonly now: Date | number;
  /** Allowed clock skew for `created` (both directions) and `expires`, in **seconds**; default 300. */
  readonly tolerance?: number;
  /**
   * Components the signature must cover. Default: `["@method", "@path", "@query"]`, plus
   * `"content-digest"` when the request has a non-empty body.
   */
  readonly requiredComponents?: readonly string[];
  /** Parameters the signature must carry; default `['created', 'keyid', 'alg', 'nonce']`. */
  readonly requiredParams?: readonly SignatureParamName[];
  /**
   * Replay check for the `nonce` parameter; when given, a nonce is mandatory, and so is `created`
   * or `expires` (without either a signature would verify forever, long after its nonce is forgotten).
   */
  readonly nonceStore?: NonceStore;
  /**
   * Label to verify. Default: the first member of `Signature-Input` whose `keyid` the key lookup
   * knows (so a signature a gateway put before the client's own is passed over), else the first
   * member.
   */
  readonly label?: string;
  /**
   * Verifies the raw signature over the UTF-8 signature base in place of the built-in pure-JS
   * verifier (`verifyBytes`), e.g. with `node:crypto` and cached key objects for speed (it may
   * answer asynchronously, e.g. from a thread pool). It must accept exactly what `verifyBytes`
   * accepts (ECDSA high-S included, strict Ed25519) and give `false` for a bad signature; a
   * throw or rejection counts as `false`.
   */
  readonly verifier?: (key: VerifyKey, base: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;
  /**
   * Computes the `Content-Digest` check's digest in place of the built-in pure-JS hashes, e.g.
   * with `node:crypto`'s `createHash`; it must return the raw digest (32 bytes for `sha-256`, 64
   * for `sha-512`). A throw fails the request with `ERR_DIGEST_MISMATCH`.
   */
  readonly digest?: DigestFunction;
}

/** A successful verification. */
export interface VerifySuccess {
  readonly ok: true;
  /** The verified `keyid`. */
  readonly keyId: string;
  /** The label that was verified. */
  readonly label: string;
  /** The verified signature parameters. */
  readonly params: SignatureParams;
  /** The covered components, in order. */
  readonly components: readonly string[];
}

/** A failed verification. */
export interface VerifyFailure {
  readonly ok: false;
  /** Stable failure code. */
  readonly code: SignatureErrorCode;
  /** Human-readable detail; not stable. */
  readonly message: string;
  /**
   * The `keyid` of the signature that was judged, when the failure came after it was read (an
   * unknown key, an expired or invalid signature, a replayed nonce, …): whose signature failed.
   */
  readonly keyId?: string;
}

/** Result of {@link verifyRequest}. */
export type VerifyResult = VerifySuccess | VerifyFailure;

function fail(code: SignatureErrorCode, message: string, keyId?: string): VerifyFailure {
  return keyId === undefined ? { ok: false, code, message } : { ok: false, code, message, keyId };
}

function readParams(list: SfInnerList): SignatureParams | undefined {
  const out: { -readonly [K in keyof SignatureParams]: SignatureParams[K] } = {};
  for (const [name, value] of list.params) {
    switch (name) {
      case 'created':
      case 'expires':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) return undefined;
        out[name] = value;
        break;
      case 'keyid':
      case 'alg':
      case 'nonce':
      case 'tag':
        if (typeof value !== 'string') return undefined;
        out[name] = value;
        break;
      default:
        break; // unknown parameters are covered by the signature but otherwise ignored
    }
  }
  return out;
}

/**
 * The default label: the first member of `Signature-Input` whose `keyid` resolves to a key, else
 * the first member (whose failure is then reported). One member, the usual case, needs no lookup.
 */
async function pickLabel(inputs: SfDictionary, keyLookup: KeyLookup): Promise<string | undefined> {
  const first = inputs.keys().next().value;
  if (inputs.size < 2) return first;
  for (const [label, input] of inputs) {
    if (!isInnerList(input)) continue;
    const keyId = input.params.find(([name]) => name === 'keyid')?.[1];
    if (typeof keyId !== 'string') continue;
    try {
      if ((await keyLookup(keyId)) !== undefined) return label;
    } catch {
      // an unknown key, as far as choosing goes
    }
  }
  return first;
}

function nowSeconds(now: Date | number): number {
  const ms = now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms))
    throw new TypeError('now must be a Date or epoch milliseconds');
  return Math.floor(ms / 1000);
}

/**
 * Verifies an RFC 9421 signature on a request, failing closed.
 *
 * Checks, in order: presence (`ERR_SIG_MISSING`), syntax (`ERR_SIG_MALFORMED`), required
 * components (`ERR_SIG_COMPONENT_MISSING`), key (`ERR_SIG_UNKNOWN_KEY`), `alg` against the key
 * (`ERR_SIG_ALG_MISMATCH`), `created` within ±tolerance and `expires` (`ERR_SIG_EXPIRED`), the
 * signature (`ERR_SIG_INVALID`), the covered `Content-Digest` against the body
 * (`ERR_DIGEST_MISMATCH`; `ERR_SIG_MALFORMED` when the header does not parse as a dictionary of
 * byte sequences or names neither `sha-256` nor `sha-512`), and last the nonce
 * (`ERR_SIG_NONCE_REPLAYED`), so that forged requests cannot burn nonces. Throws only for invalid
 * options, never for hostile input.
 *
 * An `ERR_SIG_EXPIRED` message names both times and the tolerance, in unix seconds, e.g.
 * `created 1796106437 is 86400 s before the verifier's clock 1796192837 (tolerance 300 s)` (it
 * said only "created is outside the tolerance window" before this version).
 *
 * Pass the request target as received (Node's `req.url`, origin-form) with its `Host` header and,
 * behind a TLS-terminating proxy, `scheme: 'https'`: `@path` and `@query` are compared verbatim,
 * as RFC 9421 §2.2 defines them, and `@authority` is the `Host`. A URL that cannot give a covered
 * component (`*`, a relative reference, a `Host` that is not an authority) fails with
 * `ERR_SIG_INVALID`.
 *
 * @param request - the received request: method, URL (origin-form + `Host`, or absolute), headers, raw body bytes.
 * @param options - key lookup, clock and policy.
 * @returns `{ ok: true, keyId, params, … }` or `{ ok: false, code, message }`.
 *
 * @example
 * ```ts
 * const r = await verifyRequest(
 *   { method: req.method, url: req.url, headers: req.headers, body: rawBody },
 *   { keyLookup: (kid) => devices.get(kid), now: Date.now(), nonceStore: (n, kid, exp) => nonces.add(kid, n, exp) },
 * );
 * if (!r.ok) return reply.code(401).send({ code: r.code });
 * ```
 */
export async function verifyRequest(
  request: HttpRequestLike,
  options: VerifyRequestOptions,
): Promise<VerifyResult> {
  const now = nowSeconds(options.now);
  const tolerance = options.tolerance ?? DEFAULT_SIGNATURE_TOLERANCE_S;
  if (!(tolerance >= 0)) throw new RangeError('tolerance must be a non-negative number of seconds');
  if (typeof options.keyLookup !== 'function') throw new TypeError('keyLookup must be a function');
  const body = request.body ?? new Uint8Array(0);
  if (!(body instanceof Uint8Array)) throw new TypeError('body must be a Uint8Array');

  const inputHeader = getHeader(request.headers, 'signature-input');
  const sigHeader = getHeader(request.headers, 'signature');
  if (inputHeader === undefined || sigHeader === undefined)
    return fail('ERR_SIG_MISSING', 'no Signature-Input/Signature');

  const inputs = parseDictionary(inputHeader);
  const sigs = parseDictionary(sigHeader);
  if (inputs === undefined || sigs === undefined)
    return fail('ERR_SIG_MALFORMED', 'unparseable signature headers');
  const label = options.label ?? (await pickLabel(inputs, options.keyLookup));
  if (label === undefined) return fail('ERR_SIG_MISSING', 'empty Signature-Input');
  const input = inputs.get(label);
  const sig = sigs.get(label);
  if (input === undefined || sig === undefined)
    return fail('ERR_SIG_MISSING', `no signature labelled ${label}`);
  if (!isInnerList(input) || isInnerList(sig) || !(sig.value instanceof Uint8Array)) {
    return fail('ERR_SIG_MALFORMED', 'wrong structured field types');
  }
  const params = readParams(input);
  if (params === undefined) return fail('ERR_SIG_MALFORMED', 'invalid signature parameter types');
  const components: string[] = [];
  for (const item of input.items) {
    if (typeof item.value !== 'string' || item.params.length > 0) {
      return fail('ERR_SIG_MALFORMED', 'unsupported component identifier');
    }
    components.push(item.value);
  }

  for (const p of options.requiredParams ?? ['created', 'keyid', 'alg', 'nonce']) {
    if (params[p] === undefined) return fail('ERR_SIG_MALFORMED', `missing parameter ${p}`);
  }
  if (params.keyid === undefined) return fail('ERR_SIG_MALFORMED', 'missing parameter keyid');
  if (options.nonceStore !== undefined && params.nonce === undefined) {
    return fail('ERR_SIG_MALFORMED', 'missing parameter nonce');
  }
  if (options.nonceStore !== undefined && params.created === undefined && params.expires === undefined) {
    // such a signature verifies forever, but its nonce would be forgotten: replayable
    return fail('ERR_SIG_MALFORMED', 'missing parameter created (or expires) to bound the nonce');
  }
  const required =
    options.requiredComponents ??
    (body.length > 0 ? [...DEFAULT_COVERED_COMPONENTS, 'content-digest'] : DEFAULT_COVERED_COMPONENTS);
  for (const c of required) {
    if (!components.includes(c)) return fail('ERR_SIG_COMPONENT_MISSING', `component ${c} not covered`);
  }

  const keyId = params.keyid;
  let key: VerifyKey | undefined;
  try {
    key = await options.keyLookup(keyId);
  } catch {
    key = undefined;
  }
  if (key === undefined) return fail('ERR_SIG_UNKNOWN_KEY', `unknown keyid ${keyId}`, keyId);
  if (params.alg !== undefined && params.alg !== key.alg) {
    return fail('ERR_SIG_ALG_MISMATCH', `alg ${params.alg} does not match key (${key.alg})`, keyId);
  }

  // the detail names both clocks and the tolerance: a signer whose clock is off (or a platform
  // whose clock was moved) sees by how much, and which way
  if (params.created !== undefined && Math.abs(now - params.created) > tolerance) {
    const off = now - params.created;
    return fail(
      'ERR_SIG_EXPIRED',
      `created ${params.created} is ${Math.abs(off)} s ${off > 0 ? 'before' : 'after'} the verifier's clock ${now} (tolerance ${tolerance} s)`,
      keyId,
    );
  }
  if (params.expires !== undefined && now - tolerance > params.expires) {
    return fail(
      'ERR_SIG_EXPIRED',
      `expires ${params.expires} is ${now - params.expires} s before the verifier's clock ${now} (tolerance ${tolerance} s)`,
      keyId,
    );
  }

  const base = buildSignatureBase(request, input);
  if (!base.ok) {
    if (base.reason === 'component-missing')
      return fail(
        'ERR_SIG_INVALID',
        `covered component ${base.component ?? ''} absent from the request`,
        keyId,
      );
    if (base.reason === 'invalid-target')
      return fail('ERR_SIG_INVALID', `${base.component ?? ''}: unusable request target or Host`, keyId);
    return fail('ERR_SIG_MALFORMED', `cannot build signature base: ${base.reason}`, keyId);
  }
  const verify = options.verifier ?? verifyBytes;
  let valid: boolean;
  try {
    valid = (await verify(key, utf8(base.base), sig.value)) === true;
  } catch {
    valid = false;
  }
  if (!valid) return fail('ERR_SIG_INVALID', 'signature does not verify', keyId);

  const digestHeader = getHeader(request.headers, 'content-digest');
  if (digestHeader !== undefined || components.includes('content-digest')) {
    let status: ContentDigestStatus;
    try {
      status = checkContentDigest(
        digestHeader,
        body,
        options.digest === undefined ? {} : { digest: options.digest },
      );
    } catch {
      status = 'mismatch'; // a failing digest function: the body could not be shown to match
    }
    if (status === 'unsupported') {
      return fail(
        'ERR_SIG_MALFORMED',
        'Content-Digest names no supported algorithm (sha-256, sha-512)',
        keyId,
      );
    }
    if (status === 'malformed' || status === 'missing') {
      return fail('ERR_SIG_MALFORMED', 'Content-Digest is not a dictionary of byte sequences', keyId);
    }
    if (status !== 'valid')
      return fail('ERR_DIGEST_MISMATCH', 'Content-Digest does not match the body', keyId);
  }

  if (options.nonceStore !== undefined && params.nonce !== undefined) {
    // the last second at which this signature still passes the created/expires checks above
    const expiresAt =
      Math.min(
        params.created === undefined ? Number.POSITIVE_INFINITY : params.created,
        params.expires === undefined ? Number.POSITIVE_INFINITY : params.expires,
      ) + tolerance;
    if (!(await options.nonceStore(params.nonce, keyId, expiresAt))) {
      return fail('ERR_SIG_NONCE_REPLAYED', 'nonce already used', keyId);
    }
  }
  return { ok: true, keyId, label, params, components };
}
