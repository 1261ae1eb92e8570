/**
 * Request-target components (RFC 9421 §2.2.2–§2.2.7): read from the target as sent, never from a
 * rewritten URL, and the same on the signing and the verifying side.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { ed25519 } from '@noble/curves/ed25519.js';
import { request as undiciRequest } from 'undici';
import { describe, expect, it } from 'vitest';
import { buildSignatureBase } from '../../src/http/signature-base.js';
import {
  createSignatureBase,
  type HttpRequestLike,
  importSigningKey,
  importVerifyKey,
  signRequest,
  verifyRequest,
} from '../../src/http.js';

const enc = new TextEncoder();
const T = 1_700_000_000;

/** RFC 9421 B.1.4 test-key-ed25519. */
const ED25519_JWK = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-ed25519',
  x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
  d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
} as const;
const key = importSigningKey(ED25519_JWK);
const vkey = importVerifyKey(ED25519_JWK);
const verifyOptions = { keyLookup: () => vkey, now: T * 1000 };

const URI_COMPONENTS = ['@path', '@query', '@request-target', '@authority', '@scheme', '@target-uri'];

/** The value lines of a signature base over `components`, without `@signature-params`. */
function lines(req: HttpRequestLike, components: readonly string[] = URI_COMPONENTS): string[] {
  return createSignatureBase(req, components, {}).base.split('\n').slice(0, -1);
}

function fromBase64Url(s: string): Uint8Array {
  return Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
}

describe('origin-form targets are read verbatim', () => {
  it('a target starting with // is a path, and the authority is the Host', () => {
    const { base } = createSignatureBase(
      { method: 'GET', url: '//files/a', headers: { host: 'api.example' } },
      ['@path', '@authority'],
      {},
    );
    expect(base.split('\n').slice(0, 2)).toEqual(['"@path": //files/a', '"@authority": api.example']);
    expect(
      lines({ method: 'GET', url: '//files/a?x=1', scheme: 'https', headers: { host: 'api.example' } }),
    ).toEqual([
      '"@path": //files/a',
      '"@query": ?x=1',
      '"@request-target": //files/a?x=1',
      '"@authority": api.example',
      '"@scheme": https',
      '"@target-uri": https://api.example//files/a?x=1',
    ]);
  });

  it('keeps dot segments, backslashes and the query exactly as sent (§2.2.6, §2.2.7)', () => {
    const req = (url: string): HttpRequestLike => ({ method: 'GET', url, headers: { host: 'a.test' } });
    expect(lines(req("/a/../b\\c?a=it's&b=%2f"), ['@path', '@query', '@request-target'])).toEqual([
      '"@path": /a/../b\\c',
      '"@query": ?a=it\'s&b=%2f',
      '"@request-target": /a/../b\\c?a=it\'s&b=%2f',
    ]);
    // the query runs from the first '?'; an empty or absent query is '?' alone
    expect(lines(req('/x?a?b'), ['@path', '@query'])).toEqual(['"@path": /x', '"@query": ?a?b']);
    expect(lines(req('/x?'), ['@path', '@query'])).toEqual(['"@path": /x', '"@query": ?']);
    expect(lines(req('/x'), ['@path', '@query'])).toEqual(['"@path": /x', '"@query": ?']);
  });

  it('normalises the Host: lowercase, without an empty or default port (§2.2.3)', () => {
    const authority = (host: string, scheme?: string) =>
      lines({ method: 'GET', url: '/', headers: { host }, ...(scheme ? { scheme } : {}) }, ['@authority'])[0];
    expect(authority('API.Example')).toBe('"@authority": api.example');
    expect(authority('api.example:80')).toBe('"@authority": api.example');
    expect(authority('api.example:443')).toBe('"@authority": api.example:443');
    expect(authority('API.example:443', 'HTTPS')).toBe('"@authority": api.example');
    expect(authority('api.example:80', 'https')).toBe('"@authority": api.example:80');
    expect(authority('api.example:8443', 'https')).toBe('"@authority": api.example:8443');
    expect(authority('api.example:')).toBe('"@authority": api.example');
    expect(authority('[::1]:443', 'https')).toBe('"@authority": [::1]');
    expect(authority('[::1]')).toBe('"@authority": [::1]');
  });

  it('an RFC signer that signed the query as sent verifies (RFC 9421 B.1.4 key)', async () => {
    const params = `("@method" "@path" "@query");created=${T};keyid="test-key-ed25519";alg="ed25519";nonce="n"`;
    const base = [
      '"@method": GET',
      '"@path": /x',
      '"@query": ?a=it\'s',
      `"@signature-params": ${params}`,
    ].join('\n');
    const signature = ed25519.sign(enc.encode(base), fromBase64Url(ED25519_JWK.d));
    const headers = {
      host: 'api.example',
      'signature-input': `sig1=${params}`,
      signature: `sig1=:${btoa(String.fromCharCode(...signature))}:`,
    };
    await expect(
      verifyRequest({ method: 'GET', url: "/x?a=it's", headers }, verifyOptions),
    ).resolves.toMatchObject({ ok: true, keyId: 'test-key-ed25519' });
    await expect(
      verifyRequest({ method: 'GET', url: '/x?a=it%27s', headers }, verifyOptions),
    ).resolves.toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
  });
});

describe('signer and verifier derive the same components', () => {
  const components = ['@method', '@authority', '@path', '@query'];
  const sign = (url: string) =>
    signRequest({ method: 'GET', url, headers: {} }, { keyId: 'k', key, created: T, nonce: 'n', components });

  it('a request to https://api.example//files/a verifies as the server receives it', async () => {
    const h = sign('https://api.example//files/a');
    const received = {
      method: 'GET',
      url: '//files/a',
      scheme: 'https',
      headers: { host: 'api.example', ...h },
    };
    await expect(verifyRequest(received, verifyOptions)).resolves.toMatchObject({ ok: true });
  });

  it('a signature for evil.example does not verify on Host api.example at //evil.example/…', async () => {
    const h = sign('https://evil.example/v1/x');
    const forged = {
      method: 'GET',
      url: '//evil.example/v1/x',
      scheme: 'https',
      headers: { host: 'api.example', ...h },
    };
    const r = await verifyRequest(forged, verifyOptions);
    expect(r).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
    // while the genuine request to evil.example does
    const genuine = { method: 'GET', url: '/v1/x', scheme: 'https', headers: { host: 'evil.example', ...h } };
    await expect(verifyRequest(genuine, verifyOptions)).resolves.toMatchObject({ ok: true });
  });

  it('an absolute URL is signed as undici and fetch send it: WHATWG path and query, no fragment', () => {
    const req = (url: string): HttpRequestLike => ({ method: 'GET', url, headers: {} });
    expect(lines(req("https://API.example:443/a/../b?a=it's#frag"))).toEqual([
      '"@path": /b',
      '"@query": ?a=it%27s',
      '"@request-target": /b?a=it%27s',
      '"@authority": api.example',
      '"@scheme": https',
      '"@target-uri": https://api.example/b?a=it%27s',
    ]);
    expect(
      lines(req('http://a.test:8080/x?'), ['@path', '@query', '@request-target', '@target-uri']),
    ).toEqual(['"@path": /x', '"@query": ?', '"@request-target": /x', '"@target-uri": http://a.test:8080/x']);
  });

  it('round trip through undici and node:http: what is signed is what the server receives', async () => {
    const received: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      received.push(req);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const all = ['@method', '@authority', '@path', '@query', '@request-target', '@target-uri', '@scheme'];
      for (const path of ["/x?a=it's", '//files/a', '/a/../b', '/a b?c d', '/x?', '/x#frag', '/%7Ex?%41']) {
        const url = `http://127.0.0.1:${port}${path}`;
        const h = signRequest(
          { method: 'GET', url, headers: {} },
          { keyId: 'k', key, created: T, nonce: 'n', components: all },
        );
        const res = await undiciRequest(url, { headers: { ...h } });
        await res.body.dump();
        const req = received.at(-1) as IncomingMessage;
        const r = await verifyRequest(
          { method: req.method as string, url: req.url as string, headers: req.headers },
          { ...verifyOptions, requiredComponents: all },
        );
        expect(r, `${path} received as ${req.url}`).toMatchObject({ ok: true });
      }
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('targets that give no request-target components', () => {
  const req = (url: string, headers: Record<string, string> = { host: 'a.test' }): HttpRequestLike => ({
    method: 'OPTIONS',
    url,
    headers,
  });
  const base = (r: HttpRequestLike, component: string) =>
    buildSignatureBase(r, { items: [{ value: component, params: [] }], params: [] });

  it('fail with invalid-target: asterisk-form, authority-form, relative, non-http URLs', () => {
    for (const url of ['*', 'a.test:443', 'files/a', '', 'ftp://a.test/x', 'https:/a.test/x', 'http://']) {
      expect(base(req(url), '@path'), url).toEqual({
        ok: false,
        reason: 'invalid-target',
        component: '@path',
      });
    }
    expect(() => createSignatureBase(req('*'), ['@query'], {})).toThrow(/invalid-target \(@query\)/);
    // components that do not read the target still work
    expect(base(req('*'), '@method')).toMatchObject({ ok: true });
  });

  it('fail with invalid-target for a Host that is not an authority, component-missing without one', () => {
    for (const host of ['evil.example/x', 'a.test, b.test', 'user@a.test', 'a test', '']) {
      expect(base(req('/x', { host }), '@authority'), host).toMatchObject({
        ok: false,
        reason: 'invalid-target',
      });
      expect(base(req('/x', { host }), '@target-uri'), host).toMatchObject({
        ok: false,
        reason: 'invalid-target',
      });
    }
    expect(base(req('/x', {}), '@authority')).toEqual({
      ok: false,
      reason: 'component-missing',
      component: '@authority',
    });
    expect(base(req('/x', {}), '@path')).toMatchObject({ ok: true });
  });

  it('verifyRequest refuses them with ERR_SIG_INVALID', async () => {
    const h = signRequest(
      { method: 'OPTIONS', url: 'https://a.test/x', headers: {} },
      { keyId: 'k', key, created: T, nonce: 'n' },
    );
    const r = await verifyRequest(
      { method: 'OPTIONS', url: '*', headers: { host: 'a.test', ...h } },
      verifyOptions,
    );
    expect(r).toMatchObject({ ok: false, code: 'ERR_SIG_INVALID' });
  });
});

describe('HTTP field canonicalisation (RFC 9421 §2.1)', () => {
  it('gives the §2.1 example values: obs-fold replaced by one SP, OWS trimmed, lines joined', () => {
    // RFC 9421 §2.1: "Remove any obsolete line folding within the line, and replace it with a
    // single space"; a raw HTTP/1.1 parser may hand such a value over (RFC 9112 §5.2)
    const req: HttpRequestLike = {
      method: 'GET',
      url: '/',
      headers: {
        'X-OWS-Header': '   Leading and trailing whitespace.   ',
        'X-Obs-Fold-Header': 'Obsolete\r\n    line folding.',
        'Cache-Control': ['max-age=60', '   must-revalidate'],
        'X-Empty-Header': '',
      },
    };
    const names = ['x-ows-header', 'x-obs-fold-header', 'cache-control', 'x-empty-header'];
    expect(createSignatureBase(req, names, {}).base.split('\n').slice(0, 4)).toEqual([
      '"x-ows-header": Leading and trailing whitespace.',
      '"x-obs-fold-header": Obsolete line folding.',
      '"cache-control": max-age=60, must-revalidate',
      '"x-empty-header": ',
    ]);
  });

  it('still refuses a bare CR or LF that is no fold (it would forge a line of the base)', () => {
    for (const v of ['a\r\n"@method": GET', 'a\nb', 'a\rb', 'a\r\n']) {
      const r = buildSignatureBase(
        { method: 'GET', url: '/', headers: { 'x-h': v } },
        { items: [{ value: 'x-h', params: [] }], params: [] },
      );
      expect(r, JSON.stringify(v)).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });
});
