/**
 * The WebCrypto signature backend (`globalThis.crypto.subtle`): Node, browsers, Deno, Bun.
 *
 * @module
 */
import type { PublicKey, SignatureBackend } from '@campus-card/core';
import { nobleBackend } from './noble.js';

const ECDSA_IMPORT = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_VERIFY = { name: 'ECDSA', hash: 'SHA-256' } as const;
const ED25519 = { name: 'Ed25519' } as const;

/**
 * Creates a {@link SignatureBackend} on WebCrypto. Public keys are imported once (`importKey`
 * `'raw'`: the uncompressed SEC1 point for ES256, the 32-byte key for EdDSA) and the `CryptoKey`
 * is cached in a `WeakMap` keyed by the {@link PublicKey} object, so a key object reused across
 * scans (a trust-list entry, a cached credential's phone key) is imported only once.
 *
 * ECDSA verification in WebCrypto accepts high-S signatures (spec §2.3). A key WebCrypto cannot
 * import or verify with (Ed25519 on an older browser or WebView) is verified with @noble/curves
 * instead. A malformed key or signature makes `verify` resolve to `false`; it never rejects.
 *
 * @param subtle - The `SubtleCrypto` to use. Default `globalThis.crypto.subtle`.
 * @throws `TypeError` when no `SubtleCrypto` is available.
 * @example
 * ```ts
 * const verifier = createVerifier({ rootKeys, backend: createWebCryptoBackend() });
 * ```
 */
export function createWebCryptoBackend(
  // `typeof globalThis.crypto.subtle`, not the DOM's `SubtleCrypto`: the published declarations
  // then compile in a Node project whose `lib` has no DOM (with `skipLibCheck: false`) as in a browser one
  subtle: typeof globalThis.crypto.subtle | undefined = globalThis.crypto?.subtle,
): SignatureBackend {
  if (subtle === undefined || typeof subtle.verify !== 'function') {
    throw new TypeError('createWebCryptoBackend: no WebCrypto (globalThis.crypto.subtle) in this runtime');
  }
  const s = subtle;
  const keys = new WeakMap<PublicKey, Promise<CryptoKey | null>>();
  function cryptoKey(key: PublicKey): Promise<CryptoKey | null> {
    let k = keys.get(key);
    if (k === undefined) {
      const algorithm = key.alg === 'ES256' ? ECDSA_IMPORT : ED25519;
      k = s.importKey('raw', key.raw as Uint8Array<ArrayBuffer>, algorithm, false, ['verify']).then(
        (ck) => ck,
        () => null,
      );
      keys.set(key, k);
    }
    return k;
  }
  return {
    async verify(key, data, signature) {
      if (signature.length !== 64) return false;
      try {
        const ck = await cryptoKey(key);
        // WebCrypto refused the key: a runtime without the algorithm (Ed25519 is missing from
        // older browsers and WebViews), or a malformed key, which noble answers false for too
        if (ck === null) return nobleBackend.verify(key, data, signature);
        return await s.verify(
          key.alg === 'ES256' ? ECDSA_VERIFY : ED25519,
          ck,
          signature as Uint8Array<ArrayBuffer>,
          data as Uint8Array<ArrayBuffer>,
        );
      } catch {
        return nobleBackend.verify(key, data, signature);
      }
    },
  };
}
