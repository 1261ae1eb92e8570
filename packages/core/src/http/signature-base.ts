/**
 * RFC 9421 §2.5 signature base construction.
 *
 * Supported derived components: `@method`, `@target-uri`, `@authority`, `@scheme`,
 * `@request-target`, `@path`, `@query` (requests) and `@status` (responses). Header fields are
 * covered by their lowercased names. Component parameters (`;sf`, `;key`, `;bs`, `;req`, `;tr`,
 * `;name`) are not supported and make the base fail.
 *
 * The request-target components come from the request's `url`, never rewritten. An origin-form
 * target (`/v1/x?y=1`, as a server receives it) gives `@path`, `@query` and `@request-target`
 * verbatim, and `@authority` from the `Host` header (lowercased, without the default port); an
 * absolute `http(s)` URL (as a client is given it) gives the path and query that undici and fetch
 * send for it, i.e. those of the WHATWG-parsed URL, and its own authority. Any other form
 * (`*`, `host:port`, a relative reference) fails with `invalid-target` when such a component is
 * covered.
 *
 * @module
 */
import { getHeader, type HttpRequestLike, type HttpResponseLike } from './message.js';
import {
  type SfBareItem,
  type SfInnerList,
  serializeInnerList,
  serializeString,
} from './structured-fields.js';

/** Signature parameters of RFC 9421 §2.3, in the order they are serialised. */
export interface SignatureParams {
  /** `created`: Unix time in seconds (integer). */
  readonly created?: number;
  /** `keyid`: the key identifier. */
  readonly keyid?: string;
  /** `alg`: the RFC 9421 algorithm name. */
  readonly alg?: string;
  /** `nonce`: a unique value per signature, for replay detection. */
  readonly nonce?: string;
  /** `expires`: Unix time in seconds (integer) after which the signature is invalid. */
  readonly expires?: number;
  /** `tag`: an application-specific tag. */
  readonly tag?: string;
}

const PARAM_ORDER = ['created', 'keyid', 'alg', 'nonce', 'expires', 'tag'] as const;

/** Serialises signature parameters (RFC 9421 §2.3) to the RFC 8941 parameter list. */
export function toSfParams(params: SignatureParams): Array<readonly [string, SfBareItem]> {
  const out: Array<readonly [string, SfBareItem]> = [];
  for (const name of PARAM_ORDER) {
    const v = params[name];
    if (v === undefined) continue;
    if ((name === 'created' || name === 'expires') && !Number.isSafeInteger(v)) {
      throw new TypeError(`signature parameter "${name}" must be an integer (Unix seconds)`);
    }
    if (name !== 'created' && name !== 'expires' && typeof v !== 'string') {
      throw new TypeError(`signature parameter "${name}" must be a string`);
    }
    out.push([name, v]);
  }
  return out;
}

/**
 * Why a signature base could not be built. `invalid-target` means a covered component derives
 * from the request target and the request's `url` is neither an origin-form target nor an
 * absolute `http(s)` URL, or its `Host` header is not a valid authority.
 */
export type SignatureBaseFailure =
  | 'component-missing'
  | 'component-unsupported'
  | 'malformed'
  | 'invalid-target';

/** Result of {@link buildSignatureBase}. */
export type SignatureBaseResult =
  | { readonly ok: true; readonly base: string }
  | { readonly ok: false; readonly reason: SignatureBaseFailure; readonly component?: string };

/**
 * The target URI of a request as the derived components of RFC 9421 §2.2 read it: the scheme, the
 * authority and the origin-form request target (absolute path and query), the last as sent.
 */
interface Target {
  /** The scheme, lowercased. */
  readonly scheme: string;
  /** The normalised authority; `undefined` for an origin-form target, whose authority is the `Host`. */
  readonly authority: string | undefined;
  /** The origin-form request target: the absolute path and the query, as sent. */
  readonly target: string;
  /** Index of the `?` that starts the query in {@link Target.target}, or -1 without a query. */
  readonly queryAt: number;
}

const ABSOLUTE_HTTP_URL = /^https?:\/\//i;
/** RFC 3986 authority without userinfo: an IP literal or a reg-name / IPv4 address, then an optional port. */
const AUTHORITY = /^(?:\[[0-9A-Za-z:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;
const UPPER = /[A-Z]/;

function lower(s: string): string {
  return UPPER.test(s) ? s.toLowerCase() : s;
}

/**
 * Reads the request target without rewriting it (RFC 9421 §2.2.6, §2.2.7: `@path` and `@query` are
 * the values as sent, percent-encoding and dot segments included). `undefined` for any other form.
 */
function parseTarget(req: HttpRequestLike): Target | undefined {
  const url = req.url;
  if (typeof url !== 'string') return undefined;
  if (url.charCodeAt(0) === 0x2f) {
    // origin-form (RFC 9112 §3.2.1), verbatim: `//files/a` is a path, not a network-path reference
    const scheme = typeof req.scheme === 'string' ? lower(req.scheme) : 'http';
    return { scheme, authority: undefined, target: url, queryAt: url.indexOf('?') };
  }
  // An absolute URL is the target URI of a request that a client such as undici or fetch sends
  // in origin form: they send the path and query of the WHATWG-parsed URL, so these are signed
  // (`?a=it's` is sent and signed as `?a=it%27s`; the fragment is neither).
  if (!ABSOLUTE_HTTP_URL.test(url)) return undefined; // authority-form, asterisk-form, relative references
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const { pathname, search } = parsed;
  return {
    scheme: parsed.protocol.slice(0, -1),
    authority: parsed.host, // lowercased, default port removed
    target: pathname + search,
    queryAt: search === '' ? -1 : pathname.length,
  };
}

/**
 * The normalised authority of an origin-form request (RFC 9421 §2.2.3): the `Host` header,
 * lowercased, without an empty or default port. `undefined` without a `Host`, `false` when the
 * `Host` is not an authority.
 */
function hostAuthority(req: HttpRequestLike, scheme: string): string | undefined | false {
  let host = getHeader(req.headers, 'host');
  if (host === undefined) return undefined;
  if (!AUTHORITY.test(host)) return false;
  const colon = host.lastIndexOf(':');
  if (
    colon > host.lastIndexOf(']') &&
    (colon === host.length - 1 ||
      (scheme === 'http' && host.endsWith(':80')) ||
      (scheme === 'https' && host.endsWith(':443')))
  ) {
    host = host.slice(0, colon);
  }
  return lower(host);
}

/** A derived component of a request target; `false` when the `Host` is not an authority. */
function deriveFromTarget(name: string, req: HttpRequestLike, t: Target): string | undefined | false {
  switch (name) {
    case '@scheme':
      return t.scheme;
    case '@request-target':
      return t.target;
    case '@path':
      return t.queryAt < 0 ? t.target : t.target.slice(0, t.queryAt);
    case '@query': // '?' alone for an absent or empty query (RFC 9421 §2.2.7)
      return t.queryAt < 0 ? '?' : t.target.slice(t.queryAt);
    case '@authority':
    case '@target-uri': {
      const authority = t.authority ?? hostAuthority(req, t.scheme);
      if (typeof authority !== 'string' || name === '@authority') return authority;
      return `${t.scheme}://${authority}${t.target}`;
    }
    default:
      return undefined;
  }
}

const DERIVED = new Set([
  '@method',
  '@target-uri',
  '@authority',
  '@scheme',
  '@request-target',
  '@path',
  '@query',
  '@status',
]);

/**
 * Builds the RFC 9421 signature base for a message from a parsed `Signature-Input` member,
 * without throwing.
 *
 * @param message - the request or response.
 * @param input - the covered components (an inner list of strings) and their parameters.
 */
export function buildSignatureBase(
  message: HttpRequestLike | HttpResponseLike,
  input: SfInnerList,
): SignatureBaseResult {
  let target: Target | undefined | null = null; // parsed on first use
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const item of input.items) {
    const name = item.value;
    if (typeof name !== 'string' || item.params.length > 0)
      return { ok: false, reason: 'component-unsupported' };
    if (name !== name.toLowerCase() || name === '' || seen.has(name))
      return { ok: false, reason: 'malformed' };
    if (name === '@signature-params') return { ok: false, reason: 'malformed' };
    seen.add(name);
    let value: string | undefined;
    if (name.startsWith('@')) {
      if (!DERIVED.has(name)) return { ok: false, reason: 'component-unsupported', component: name };
      if (name === '@status') value = 'status' in message ? String(message.status) : undefined;
      else if (!('method' in message)) value = undefined;
      else if (name === '@method') value = message.method;
      else {
        if (target === null) target = parseTarget(message);
        if (target === undefined) return { ok: false, reason: 'invalid-target', component: name };
        const derived = deriveFromTarget(name, message, target);
        if (derived === false) return { ok: false, reason: 'invalid-target', component: name };
        value = derived;
      }
    } else {
      value = getHeader(message.headers, name);
    }
    if (value === undefined) return { ok: false, reason: 'component-missing', component: name };
    if (/[\r\n]/.test(value)) return { ok: false, reason: 'malformed', component: name };
    lines.push(`${serializeString(name)}: ${value}`);
  }
  lines.push(`"@signature-params": ${serializeInnerList(input)}`);
  return { ok: true, base: lines.join('\n') };
}

/**
 * Creates the RFC 9421 signature base (§2.5) and the `Signature-Input` member value.
 *
 * @param message - the request (or response, for `@status`).
 * @param components - covered component identifiers in order, e.g. `['@method', '@path', 'content-digest']`.
 * @param params - signature parameters, serialised in the order `created`, `keyid`, `alg`, `nonce`, `expires`, `tag`.
 * @returns `base` (the exact text to sign) and `signatureInput` (the inner list for `Signature-Input`).
 * @throws TypeError when a component is absent from the message or unsupported.
 *
 * @example
 * ```ts
 * const { base } = createSignatureBase(req, ['@method', '@path'], { created: 1618884473, keyid: 'k' });
 * ```
 */
export function createSignatureBase(
  message: HttpRequestLike | HttpResponseLike,
  components: readonly string[],
  params: SignatureParams,
): { base: string; signatureInput: string } {
  const list: SfInnerList = {
    items: components.map((c) => {
      if (typeof c !== 'string') throw new TypeError('component identifiers must be strings');
      return { value: c, params: [] };
    }),
    params: toSfParams(params),
  };
  const result = buildSignatureBase(message, list);
  if (!result.ok) {
    throw new TypeError(
      `cannot build signature base: ${result.reason}${result.component ? ` (${result.component})` : ''}`,
    );
  }
  return { base: result.base, signatureInput: serializeInnerList(list) };
}
