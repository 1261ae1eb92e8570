/**
 * Runtime-neutral shapes of the HTTP messages that are signed and verified.
 *
 * @module
 */

/** A header value as found in Node (`IncomingHttpHeaders`), fetch or plain objects. */
export type HeaderValue = string | readonly string[] | undefined;

/**
 * Header input: a plain record (any name case; Node's `IncomingHttpHeaders` fits) or a
 * WHATWG `Headers` object.
 */
export type HeaderInput = Readonly<Record<string, HeaderValue>> | Headers;

/** An HTTP request as seen by the signer or the verifier. */
export interface HttpRequestLike {
  /** Request method as sent on the wire, e.g. `'POST'`. Used verbatim for `@method`. */
  readonly method: string;
  /**
   * The request target, never rewritten:
   *
   * - on the receiving side, the origin-form target exactly as received (`/v1/x?y=1`, e.g.
   *   Node's `req.url`): `@path`, `@query` and `@request-target` are read from it verbatim
   *   (`//files/a` is a path, `..` and `%27` stay), the authority comes from the `Host` header
   *   and the scheme from {@link HttpRequestLike.scheme};
   * - on the sending side, the absolute `http(s)` URL given to the HTTP client
   *   (`https://api.example/v1/x?y=1`): the path and query are those undici and fetch send for
   *   it, the WHATWG-parsed URL's `pathname` and `search` (`?a=it's` is sent as `?a=it%27s`,
   *   `/a/../b` as `/b`, no fragment), and the authority is the URL's.
   *
   * Any other form (`*`, `host:port`, a relative reference) cannot give those components.
   */
  readonly url: string;
  /** Request headers. */
  readonly headers: HeaderInput;
  /** Exact body bytes; omit (or pass an empty array) for requests without content. */
  readonly body?: Uint8Array | undefined;
  /**
   * Scheme for an origin-form `url` (e.g. `'https'` behind a TLS-terminating proxy); default
   * `'http'`. It also decides which `Host` port is the default one and is dropped from `@authority`.
   */
  readonly scheme?: string;
}

/** An HTTP response as seen by the signer or the verifier (only `@status` is derived). */
export interface HttpResponseLike {
  /** Status code, e.g. `200`. */
  readonly status: number;
  /** Response headers. */
  readonly headers: HeaderInput;
}

/**
 * Strips leading and trailing SP and HTAB (RFC 9110 OWS, RFC 9421 §2.1) and nothing else:
 * `String.prototype.trim` would also strip NBSP (0xA0) and other Unicode whitespace, which are
 * part of a field value. Returns `v` itself, without allocating, when there is nothing to strip.
 */
function trimOws(v: string): string {
  let start = 0;
  let end = v.length;
  while (start < end) {
    const c = v.charCodeAt(start);
    if (c !== 0x20 && c !== 0x09) break;
    start++;
  }
  while (end > start) {
    const c = v.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09) break;
    end--;
  }
  return start === 0 && end === v.length ? v : v.slice(start, end);
}

/** An obsolete line folding (RFC 9112 §5.2: `obs-fold = OWS CRLF RWS`). */
const OBS_FOLD = /[ \t]*\r\n[ \t]+/g;

/**
 * One field line's canonical value (RFC 9421 §2.1): each obs-fold replaced by a single SP, then
 * leading and trailing SP and HTAB stripped. A CR or LF that is not part of a fold stays (and
 * makes the signature base fail).
 */
function canonicalLine(v: string): string {
  return trimOws(v.includes('\n') ? v.replace(OBS_FOLD, ' ') : v);
}

/**
 * Whether `headers` is a Fetch `Headers` object, by its shape rather than its class: the `Headers` of
 * the npm `undici` package, of a polyfill or of another realm is not an `instanceof` this runtime's
 * global `Headers`, and read as a record it would look empty. A record's values are strings or
 * arrays, never functions.
 */
function isHeadersObject(headers: HeaderInput): headers is Headers {
  const h = headers as { get?: unknown; forEach?: unknown };
  return typeof h.get === 'function' && typeof h.forEach === 'function';
}

/**
 * Returns a header's canonical value for a signature base (RFC 9421 §2.1): each field line with
 * any obsolete line folding replaced by a single space, stripped of leading and trailing spaces
 * and tabs (only those), and lines joined with `", "`; `undefined` when absent.
 *
 * @param headers - the header input.
 * @param name - the field name (any case).
 */
export function getHeader(headers: HeaderInput, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (isHeadersObject(headers)) {
    const v = headers.get(lower);
    return v === null ? undefined : canonicalLine(v);
  }
  const rec = headers as Readonly<Record<string, HeaderValue>>;
  // Every own key that matches in any case, in key order, without making an array of keys.
  let out: string | undefined;
  for (const key in rec) {
    if (key !== lower && key.toLowerCase() !== lower) continue;
    if (!Object.hasOwn(rec, key)) continue;
    const v = rec[key];
    if (typeof v === 'string') out = out === undefined ? canonicalLine(v) : `${out}, ${canonicalLine(v)}`;
    else if (Array.isArray(v)) {
      for (const line of v as readonly unknown[]) {
        const t = canonicalLine(String(line));
        out = out === undefined ? t : `${out}, ${t}`;
      }
    }
  }
  return out;
}

/**
 * Copies header input into a plain record with lowercased names and canonical values
 * (see {@link getHeader}).
 *
 * @param headers - the header input.
 */
export function headersToRecord(headers: HeaderInput): Record<string, string> {
  const out: Record<string, string> = {};
  if (isHeadersObject(headers)) {
    headers.forEach((value, name) => {
      out[name.toLowerCase()] = canonicalLine(value);
    });
    return out;
  }
  for (const name of Object.keys(headers)) {
    const v = getHeader(headers, name);
    if (v !== undefined) out[name.toLowerCase()] = v;
  }
  return out;
}
