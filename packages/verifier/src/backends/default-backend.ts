/**
 * Picks the default signature backend for the runtime.
 *
 * @module
 */
import type { SignatureBackend } from '@campus-card/core';
import { nobleBackend } from './noble.js';
import { createWebCryptoBackend } from './webcrypto.js';

/**
 * The default backend: WebCrypto when `globalThis.crypto.subtle` exists, else @noble/curves.
 * On Node, `@campus-card/verifier/node`'s `nodeBackend` is faster still.
 */
export function defaultBackend(): SignatureBackend {
  const subtle = globalThis.crypto?.subtle;
  return subtle !== undefined && typeof subtle.verify === 'function'
    ? createWebCryptoBackend(subtle)
    : nobleBackend;
}
