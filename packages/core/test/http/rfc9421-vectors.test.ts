/**
 * RFC 9421 Appendix B and RFC 9530 known answers.
 */
import { describe, expect, it } from 'vitest';
import {
  checkContentDigest,
  createContentDigest,
  createSignatureBase,
  importSigningKey,
  importVerifyKey,
  signRequest,
  verifyBytes,
  verifyContentDigest,
  verifyRequest,
} from '../../src/http.js';

const enc = new TextEncoder();

/** RFC 9421 B.1.4 test-key-ed25519. */
const ED25519_JWK = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-ed25519',
  x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs',
  d: 'n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU',
} as const;

/** RFC 9421 B.1.3 test-key-ecc-p256 (public half, from the RFC's SPKI PEM). */
const P256_PUBLIC_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'qIVYZVLCrPZHGHjP17CTW0_-D9Lfw0EkjqF7xB4FivA',
  y: 'Mc4nN9LTDOBhfoUeg8Ye9WedFRhnZXZJA12Qp0zZ6F0',
} as const;

/** RFC 9421 B.2 test-request, as far as the covered components see it. */
const TEST_REQUEST = {
  method: 'POST',
  url: 'http://example.com/foo?param=Value&Pet=dog',
  headers: {
    Host: 'example.com',
    Date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'Content-Type': 'application/json',
    'Content-Digest':
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'Content-Length': '18',
  },
  body: enc.encode('{"hello": "world"}'),
};

const B26_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
].join('\n');
const B26_COMPONENTS = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];
const B26_INPUT =
  'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
const B26_SIGNATURE =
  'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';

describe('RFC 9530 Content-Digest known answers', () => {
  it('sha-256 of {"hello": "world"} (RFC 9530 §2)', () => {
    expect(createContentDigest(enc.encode('{"hello": "world"}'))).toBe(
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    );
  });
  it('sha-512 of {"hello": "world"} (RFC 9530 §2, RFC 9421 B.2)', () => {
    expect(createContentDigest(enc.encode('{"hello": "world"}'), 'sha-512')).toBe(
      TEST_REQUEST.headers['Content-Digest'],
    );
  });
  it('verifies both and a combined dictionary', () => {
    const body = enc.encode('{"hello": "world"}');
    expect(verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', body)).toBe(true);
    expect(verifyContentDigest(TEST_REQUEST.headers['Content-Digest'], body)).toBe(true);
    expect(
      verifyContentDigest(
        `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, ${TEST_REQUEST.headers['Content-Digest']}`,
        body,
      ),
    ).toBe(true);
  });
  it('fails closed', () => {
    const body = enc.encode('{"hello": "world"}');
    expect(
      verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', enc.encode('{}')),
    ).toBe(false);
    expect(verifyContentDigest('md5=:AAAA:', body)).toBe(false); // no known algorithm
    expect(verifyContentDigest('sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=', body)).toBe(false); // token
    // not base64: a length no base64 has, a misplaced '=', a base64url character
    expect(verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=A:', body)).toBe(false);
    expect(verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP=E:', body)).toBe(false);
    expect(
      verifyContentDigest(
        'sha-512=:WZDPaVn_7XgHaAy8pmojAkGWoRx2UFChF41A2svX-TaPm-AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
        body,
      ),
    ).toBe(false);
    expect(verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,', body)).toBe(false);
    expect(verifyContentDigest('', body)).toBe(false);
    expect(verifyContentDigest(undefined, body)).toBe(false);
    expect(
      verifyContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', body, {
        algorithms: ['sha-512'],
      }),
    ).toBe(false);
  });
});

describe('RFC 9530 Content-Digest: RFC 8941 §4.2.7 padding, and why a check fails', () => {
  const body = enc.encode('{"hello": "world"}');
  const SHA256 = 'X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE='; // RFC 9530 §2
  const SHA512 = 'WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew=='; // RFC 9530 §2

  it('verifies the RFC 9530 digests without their = padding', () => {
    for (const header of [
      `sha-256=:${SHA256.replace(/=+$/, '')}:`,
      `sha-512=:${SHA512.replace(/=+$/, '')}:`,
      `sha-256=:${SHA256.replace(/=+$/, '')}:, sha-512=:${SHA512}:`,
    ]) {
      expect(checkContentDigest(header, body), header).toBe('valid');
      expect(verifyContentDigest(header, body), header).toBe(true);
    }
    // RFC 9421 B.2.4's response digest, unpadded
    expect(
      verifyContentDigest(
        'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ:',
        enc.encode('{"message": "good dog"}'),
      ),
    ).toBe(true);
  });

  it('ignores non-zero pad bits (the same digest bytes)', () => {
    // the sha-256 digest's last character E (000100) carries 2 pad bits: F (000101) sets one
    expect(checkContentDigest(`sha-256=:${SHA256.replace('E=', 'F=')}:`, body)).toBe('valid');
    expect(checkContentDigest(`sha-256=:${SHA256.replace('E=', 'H')}:`, body)).toBe('valid');
    // ...but a character that changes a data bit is another digest
    expect(checkContentDigest(`sha-256=:${SHA256.replace('E=', 'I=')}:`, body)).toBe('mismatch');
  });

  it('tells a malformed header, no supported algorithm and a wrong digest apart', () => {
    const cases: Array<[string | undefined, string]> = [
      [`sha-256=:${SHA256}:`, 'valid'],
      [`sha-256=:${SHA256}:`.replace('X48', 'X49'), 'mismatch'],
      [`sha-256=:${SHA256}:, sha-512=:${SHA256}:`, 'mismatch'], // every accepted one must match
      ['sha-256=:YQ:', 'mismatch'], // a byte sequence of the wrong length is a digest that differs
      ['md5=:AAAA:', 'unsupported'],
      ['unixsum=:AAAA:, id-sha-256=:AAAA:', 'unsupported'],
      [`sha-256=${SHA256}`, 'malformed'], // a token: not RFC 8941
      [`sha-256=:${SHA256}`, 'malformed'], // no closing colon
      [`sha-256=:${SHA256}:,`, 'malformed'], // trailing comma
      [`sha-256=:${SHA256}=:`, 'malformed'], // extra padding
      [`sha-256=:${SHA256.slice(0, -2)}=:`, 'malformed'], // = in place of a data character
      [`sha-512=:${SHA512.slice(0, -1)}:`, 'malformed'], // partial padding: complete or absent
      ['sha-256=:YWJjZ:', 'malformed'], // 4n + 1 characters: no base64 has that length
      [`sha-256=:${SHA256}:, md5="abc"`, 'malformed'], // every member must be a byte sequence
      [`sha-256=:${SHA256}:, sha-512=(:${SHA512}:)`, 'malformed'],
      [`sha-256=:${SHA256}:;q`, 'valid'], // parameters are allowed and ignored
      ['', 'malformed'],
      [undefined, 'missing'],
    ];
    for (const [header, status] of cases)
      expect(checkContentDigest(header, body), String(header)).toBe(status);
    expect(checkContentDigest(`sha-256=:${SHA256}:`, body, { algorithms: ['sha-512'] })).toBe('unsupported');
    expect(() => checkContentDigest(`sha-256=:${SHA256}:`, 'x' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('RFC 9421 B.2.6 ed25519', () => {
  it('builds the exact signature base', () => {
    const { base, signatureInput } = createSignatureBase(TEST_REQUEST, B26_COMPONENTS, {
      created: 1618884473,
      keyid: 'test-key-ed25519',
    });
    expect(base).toBe(B26_BASE);
    expect(`sig-b26=${signatureInput}`).toBe(B26_INPUT);
  });

  it('signs to the exact RFC signature value (ed25519 is deterministic)', () => {
    const headers = signRequest(TEST_REQUEST, {
      keyId: 'test-key-ed25519',
      key: importSigningKey(ED25519_JWK),
      created: 1618884473,
      components: B26_COMPONENTS,
      label: 'sig-b26',
      includeAlg: false,
    });
    expect(headers['signature-input']).toBe(B26_INPUT);
    expect(headers.signature).toBe(B26_SIGNATURE);
  });

  it('verifies the RFC signature with verifyRequest', async () => {
    const key = importVerifyKey(ED25519_JWK);
    const result = await verifyRequest(
      {
        ...TEST_REQUEST,
        headers: { ...TEST_REQUEST.headers, 'Signature-Input': B26_INPUT, Signature: B26_SIGNATURE },
      },
      {
        keyLookup: (kid) => (kid === 'test-key-ed25519' ? key : undefined),
        now: 1618884473_000,
        requiredComponents: ['@method', '@path'],
        requiredParams: ['created', 'keyid'],
      },
    );
    expect(result).toMatchObject({ ok: true, keyId: 'test-key-ed25519', label: 'sig-b26' });
  });

  it('verifies the RFC signature sent without its = padding (RFC 8941 §4.2.7)', async () => {
    const key = importVerifyKey(ED25519_JWK);
    const unpadded = B26_SIGNATURE.replace('==:', ':');
    expect(unpadded).not.toBe(B26_SIGNATURE);
    const result = await verifyRequest(
      {
        ...TEST_REQUEST,
        headers: { ...TEST_REQUEST.headers, 'Signature-Input': B26_INPUT, Signature: unpadded },
      },
      {
        keyLookup: (kid) => (kid === 'test-key-ed25519' ? key : undefined),
        now: 1618884473_000,
        requiredComponents: ['@method', '@path'],
        requiredParams: ['created', 'keyid'],
      },
    );
    expect(result).toMatchObject({ ok: true, keyId: 'test-key-ed25519', label: 'sig-b26' });
  });
});

describe('RFC 9421 B.2.4 ecdsa-p256-sha256 (a response)', () => {
  const response = {
    status: 200,
    headers: {
      'content-type': 'application/json',
      'content-digest':
        'sha-512=:mEWXIS7MaLRuGgxOBdODa3xqM1XdEvxoYhvlCFJ41QJgJc4GTsPp29l5oGX69wWdXymyU0rjJuahq4l5aGgfLQ==:',
      'content-length': '23',
    },
  };
  const signature = Uint8Array.from(
    atob('wNmSUAhwb5LxtOtOpNa6W5xj067m5hFrj0XQ4fvpaCLx0NKocgPquLgyahnzDnDAUy5eCdlYUEkLIj+32oiasw=='),
    (c) => c.charCodeAt(0),
  );

  it('the response content-digest matches the body', () => {
    expect(
      verifyContentDigest(response.headers['content-digest'], enc.encode('{"message": "good dog"}')),
    ).toBe(true);
  });

  it('verifies the RFC signature (SHA-256 prehash, raw r‖s)', () => {
    const { base } = createSignatureBase(
      response,
      ['@status', 'content-type', 'content-digest', 'content-length'],
      { created: 1618884473, keyid: 'test-key-ecc-p256' },
    );
    expect(base.split('\n').at(-1)).toBe(
      '"@signature-params": ("@status" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-ecc-p256"',
    );
    const key = importVerifyKey(P256_PUBLIC_JWK);
    expect(verifyBytes(key, enc.encode(base), signature)).toBe(true);
    expect(verifyBytes(key, enc.encode(`${base} `), signature)).toBe(false);
  });
});
