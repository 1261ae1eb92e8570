/**
 * Verifier benchmark. Bundled and run by `.scripts/run-bench.mjs`; prints one JSON object per line:
 * `{ name, value, unit }`.
 *
 * - `verifier.full_vs_raw_ratio` (target ≥ 0.90): throughput of `verify(qrText)` on the node backend
 *   with a warm credential cache (so one holder signature per code), divided by the throughput of the
 *   bare node:crypto ES256 checks of the same holder signatures (to-be-signed bytes, signatures and
 *   KeyObjects prepared in advance). Both run interleaved, in batches, on the same codes, in one run.
 *   Every code is distinct and fresh, so the replay window says `fresh` and the full path runs to the end.
 * - `verifier.node_vs_noble_ratio` (target ≥ 20): ES256 verify ops/s, node:crypto ÷ @noble/curves.
 * - Two diagnostics of the ratio, in µs per scan: `verifier.full_minus_raw_us_per_scan` (what the full
 *   path adds to the signature check, interleaved as above) and `verifier.around_signature_us_per_scan`
 *   (the same work, warm and back to back, with a backend that checks nothing). The first is two to
 *   three times the second: between two OpenSSL checks the verifier's code and data are out of cache.
 *
 * Run alone: `node .scripts/run-bench.mjs verifier verifier`
 *
 * @module
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import {
  createPresentation,
  decodePresentation,
  encodeQr,
  exportJwk,
  generateKeyPair,
  issueCredential,
  type SignatureBackend,
  sign1ToBeSigned,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { nobleBackend } from '../src/backends/noble.js';
import { createVerifier } from '../src/create-verifier.js';
import { nodeBackend } from '../src/node.js';

const NOW = 1_767_225_600;
const CARDS = 16;
const CODES = 24_000;
const BATCH = 500;

const root = generateKeyPair('ES256');
const issuer = generateKeyPair('ES256');
const phones = Array.from({ length: CARDS }, () => generateKeyPair('ES256'));
const credentials = await Promise.all(
  phones.map((p, i) =>
    issueCredential(
      {
        school: '10001',
        cardId: `20240100${String(i).padStart(2, '0')}`,
        role: 'student',
        iat: NOW - 86_400,
        validityDays: 30,
        holderKey: p.publicKey,
        statusIndex: i,
        groups: ['dorm:B3'],
      },
      issuer.privateKey,
    ),
  ),
);
const trustList = await signTrustList(
  {
    version: 1,
    iat: NOW - 3600,
    authority: 'platform',
    keys: [{ key: issuer.publicKey, roles: ['student'], nbf: NOW - 1e6, exp: NOW + 1e6, schools: ['10001'] }],
  },
  root.privateKey,
);
const statusList = await signStatusList(
  { school: '10001', version: 1, iat: NOW - 3600, statuses: new Array(1024).fill(0) },
  issuer.privateKey,
);

// A scanner hands over its QR text decoded from the bytes it read (serial or HID): a flat string.
// (`encodeQr` builds 'CC1:' + Base45 by concatenation, which V8 keeps as a two-part rope.)
const scannerBytes = new TextEncoder();
const scannerText = new TextDecoder();
const asScanned = (text: string): string => scannerText.decode(scannerBytes.encode(text));

// distinct fresh codes, signed in advance (t spread over the window so each is distinct and valid)
const nonce = (n: number) => new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const texts: string[] = [];
const raws: Array<{ tbs: Uint8Array; sig: Uint8Array; key: ReturnType<typeof createPublicKey> }> = [];
const keyObjects = phones.map((p) => {
  const { kty, crv, x, y } = exportJwk(p.publicKey);
  return createPublicKey({ key: { kty, crv, x, y: y as string }, format: 'jwk' });
});
for (let n = 0; n < CODES + CARDS; n++) {
  const c = n % CARDS;
  const bytes = await createPresentation(
    { credential: credentials[c] as Uint8Array, t: NOW - (n % 60), nonce: nonce(n) },
    (phones[c] as (typeof phones)[number]).privateKey,
  );
  texts.push(asScanned(encodeQr(bytes)));
  const p = decodePresentation(bytes);
  raws.push({
    tbs: sign1ToBeSigned(p.sign1.protectedBytes, p.sign1.payload),
    sig: p.sign1.signature,
    key: keyObjects[c] as ReturnType<typeof createPublicKey>,
  });
}

const verifier = createVerifier({
  rootKeys: [root.publicKey],
  backend: nodeBackend,
  // the default replay window: 100 000 entries (2.35 MB), room for all 24 000 codes
});
if (!verifier.loadTrustList(trustList, { now: NOW }).ok) throw new Error('trust list');
if (!verifier.loadStatusList(statusList, { now: NOW }).ok) throw new Error('status list');
const reader = { id: 'bench-gate' };

// warm the credential cache (and the JIT) with the first CARDS codes
for (let n = 0; n < CARDS; n++) {
  const d = await verifier.verify(texts[n] as string, { now: NOW, reader });
  if (!d.accepted) throw new Error(`warm-up denied: ${d.reason} ${d.detail}`);
}

let fullNs = 0n;
let rawNs = 0n;
let fullOps = 0;
let rawOps = 0;
let sink = 0;
const pairRatios: number[] = [];
for (let start = CARDS; start < CODES + CARDS; start += BATCH) {
  const end = Math.min(start + BATCH, CODES + CARDS);
  let t0 = process.hrtime.bigint();
  for (let n = start; n < end; n++) {
    const d = await verifier.verify(texts[n] as string, { now: NOW, reader });
    if (!d.accepted) throw new Error(`denied: ${d.reason} ${d.detail}`);
  }
  const fullBatchNs = process.hrtime.bigint() - t0;
  fullNs += fullBatchNs;
  fullOps += end - start;
  t0 = process.hrtime.bigint();
  for (let n = start; n < end; n++) {
    const r = raws[n] as (typeof raws)[number];
    if (nodeVerify('sha256', r.tbs, { key: r.key, dsaEncoding: 'ieee-p1363' }, r.sig)) sink++;
  }
  const rawBatchNs = process.hrtime.bigint() - t0;
  rawNs += rawBatchNs;
  rawOps += end - start;
  pairRatios.push(Number(rawBatchNs) / Number(fullBatchNs));
}
if (sink !== rawOps) throw new Error('raw verify failed');
/** The median of `xs` (not empty). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}
const fullRate = fullOps / (Number(fullNs) / 1e9);
const rawRate = rawOps / (Number(rawNs) / 1e9);

// node vs noble, ES256, same inputs, interleaved
const M = 2000;
let nodeNs = 0n;
let nobleNs = 0n;
let nodeN = 0;
let nobleN = 0;
for (let round = 0; round < 6; round++) {
  const base = CARDS + round * 100;
  let t0 = process.hrtime.bigint();
  for (let k = 0; k < M; k++) {
    const n = base + (k % 100);
    const c = n % CARDS;
    const r = raws[n] as (typeof raws)[number];
    if (nodeBackend.verify((phones[c] as (typeof phones)[number]).publicKey, r.tbs, r.sig)) nodeN++;
  }
  nodeNs += process.hrtime.bigint() - t0;
  t0 = process.hrtime.bigint();
  for (let k = 0; k < M / 20; k++) {
    const n = base + (k % 100);
    const c = n % CARDS;
    const r = raws[n] as (typeof raws)[number];
    if (nobleBackend.verify((phones[c] as (typeof phones)[number]).publicKey, r.tbs, r.sig)) nobleN++;
  }
  nobleNs += process.hrtime.bigint() - t0;
}
const nodeRate = nodeN / (Number(nodeNs) / 1e9);
const nobleRate = nobleN / (Number(nobleNs) / 1e9);

// The work around the signature on its own: the same scans, warm and back to back, through verifiers
// whose backend accepts every well-formed signature without checking it (a bench-only stand-in,
// never a real backend). Compare with full − raw per scan above: the difference is what running
// between OpenSSL's checks costs the same work (caches and branch predictors left cold).
const acceptAll: SignatureBackend = { verify: (_key, data, sig) => data.length > 0 && sig.length === 64 };
const aroundUs: number[] = [];
for (let pass = 0; pass < 3; pass++) {
  const v = createVerifier({ rootKeys: [root.publicKey], backend: acceptAll });
  if (!v.loadTrustList(trustList, { now: NOW }).ok || !v.loadStatusList(statusList, { now: NOW }).ok)
    throw new Error('trust material');
  let t0 = 0n;
  for (let n = 0; n < CODES + CARDS; n++) {
    if (n === CARDS) t0 = process.hrtime.bigint(); // the first CARDS scans fill the credential cache
    const d = await v.verify(texts[n] as string, { now: NOW, reader });
    if (!d.accepted) throw new Error(`denied without signatures: ${d.reason} ${d.detail}`);
  }
  aroundUs.push(Number(process.hrtime.bigint() - t0) / 1000 / CODES);
}

const line = (name: string, value: number, unit: string) =>
  console.log(JSON.stringify({ name, value, unit }));
line('verifier.full_ops_per_s', Math.round(fullRate), 'ops/s');
line('verifier.raw_es256_ops_per_s', Math.round(rawRate), 'ops/s');
line('verifier.full_vs_raw_ratio', Math.round(median(pairRatios) * 1000) / 1000, 'ratio');
line('verifier.full_vs_raw_ratio_of_totals', Math.round((fullRate / rawRate) * 1000) / 1000, 'ratio');
line('verifier.node_es256_verify_ops_per_s', Math.round(nodeRate), 'ops/s');
line('verifier.noble_es256_verify_ops_per_s', Math.round(nobleRate), 'ops/s');
line('verifier.node_vs_noble_ratio', Math.round((nodeRate / nobleRate) * 10) / 10, 'ratio');
line('verifier.full_minus_raw_us_per_scan', Math.round((1e6 / fullRate - 1e6 / rawRate) * 100) / 100, 'us');
line('verifier.around_signature_us_per_scan', Math.round(median(aroundUs) * 100) / 100, 'us');
