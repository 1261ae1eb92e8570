/**
 * RFC 9421 §2.5 signature base construction.
 *
 * Supported derived components: `@method`, `@target-uri`, `@authority`, `@scheme`,
 * `@request-target`, `@path`, `@query` (requests) and `@status` (responses). Header fields are
 * covered by their lowercased names. Component parameters (`;sf`, `;key`, `;bs`, `;req`, `;tr`,
 * `;name`) are not supported and make the base fail.
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

/** Why a signature base could not be built. */
export type SignatureBaseFailure = 'component-missing' | 'component-unsupported' | 'malformed';

/** Result of {@link buildSignatureBase}. */
export type SignatureBaseResult =
  | { readonly ok: true; readonly base: string }
  | { readonly ok: false; readonly reason: SignatureBaseFailure; readonly component?: string };

function resolveUrl(req: HttpRequestLike): URL | undefined {
  try {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(req.url)) return new URL(req.url);
    const host = getHeader(req.headers, 'host');
    if (host === undefined || !req.url.startsWith('/')) return undefined;
    return new URL(req.url, `${req.scheme ?? 'http'}://${host}`);
  } catch {
    return undefined;
  }
}

function derive(
  name: string,
  msg: HttpRequestLike | HttpResponseLike,
  url: URL | undefined,
): string | undefined {
  if (name === '@status') return 'status' in msg ? String(msg.status) : undefined;
  if (!('method' in msg)) return undefined;
  if (name === '@method') return msg.method;
  if (url === undefined) return undefined;
  switch (name) {
    case '@target-uri':
      return url.href;
    case '@authority':
      return url.host.toLowerCase();
    case '@scheme':
      return url.protocol.slice(0, -1).toLowerCase();
    case '@request-target':
      return `${url.pathname || '/'}${url.search}`;
    case '@path':
      return url.pathname || '/';
    case '@query':
      return url.search === '' ? '?' : url.search;
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
  const url = 'method' in message ? resolveUrl(message) : undefined;
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
      value = derive(name, message, url);
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
