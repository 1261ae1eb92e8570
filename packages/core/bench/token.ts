/**
 * Core benchmarks: QR sizes of a realistic card and codec throughput without signatures.
 * Prints one JSON object a line: {"name","value","unit"}.
 */
import QRCode from 'qrcode';
import {
  createCompactPresentation,
  createPresentation,
  decodePresentation,
  decodeQr,
  encodeQr,
  generateKeyPair,
  issueCredential,
} from '../src/index.js';
import { type CborValue, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

const emit = (name: string, value: number, unit: string) =>
  console.log(JSON.stringify({ name, value, unit }));

// The realistic card of spec §8: a 5-character school id carried by a single-school issuer key,
// a 10-digit card id, status index 1 234, 30 days of validity, no groups, ES256 everywhere.
const NOW = 1_767_225_600;
const issuer = generateKeyPair('ES256').privateKey;
const phone = generateKeyPair('ES256').privateKey;
const credential = await issueCredential(
  {
    school: '10001',
    includeSchool: false,
    cardId: '2024010123',
    role: 'student',
    iat: NOW,
    validityDays: 30,
    holderKey: phone.publicKey,
    statusIndex: 1234,
  },
  issuer,
);
const full = encodeQr(await createPresentation({ credential, t: NOW }, phone));
const compact = encodeQr(await createCompactPresentation({ cardId: '2024010123', t: NOW }, phone));
const version = (text: string) => QRCode.create(text, { errorCorrectionLevel: 'M' }).version;
emit('core.qr_chars.full', full.length, 'chars');
emit('core.qr_chars.compact', compact.length, 'chars');
emit('core.qr_version_m.full', version(full), 'version');
emit('core.qr_version_m.compact', version(compact), 'version');

// Codec throughput, no signatures: encode = CBOR-encode the presentation structure + Base45 QR
// text; decode = QR text → Base45 → strict scan → CBOR → COSE_Sign1 → presentation fields.
const presentationBytes = decodeQr(full);
const structure = decodeCbor(presentationBytes, { maxBytes: 1024 }, 'p') as CborValue;

function measure(fn: () => void): number {
  for (let i = 0; i < 20_000; i++) fn(); // warm up
  let best = 0;
  for (let round = 0; round < 5; round++) {
    const n = 50_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    const dt = (performance.now() - t0) / 1000;
    best = Math.max(best, n / dt);
  }
  return Math.round(best);
}

let sink = 0;
emit(
  'core.encode_ops_per_s',
  measure(() => {
    sink += encodeQr(encodeCbor(structure)).length;
  }),
  'ops/s',
);
emit(
  'core.decode_ops_per_s',
  measure(() => {
    sink += decodePresentation(decodeQr(full)).t;
  }),
  'ops/s',
);
if (sink === 42) console.error(sink);
