/**
 * The pure-JS signature backend (@noble/curves), for runtimes without WebCrypto (React Native).
 *
 * @module
 */
import { nobleBackend as coreNobleBackend, type SignatureBackend } from '@campus-card/core';

/**
 * The @noble/curves backend: runs everywhere, synchronously, and is the slowest (about 20× slower
 * than node:crypto for ES256). ES256 accepts high-S signatures; EdDSA is strict RFC 8032. Never
 * throws: a malformed key or signature is `false`.
 */
export const nobleBackend: SignatureBackend = coreNobleBackend;
