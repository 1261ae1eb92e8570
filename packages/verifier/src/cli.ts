#!/usr/bin/env node
/**
 * `campus-card-verify`: a debugging tool for vendors. Prints a readable dump of a QR text (decoded
 * without verification) and, given trust material, the verifier's decision as JSON.
 *
 * ```
 * campus-card-verify <qr-text> [--root jwk-file] [--trust-list file] [--status-list file]
 *                    [--roster file] [--now unix-seconds]
 * ```
 * Material files hold the signed bytes, raw or as hex text. Exit code: 0 accepted or dump only,
 * 1 denied, 2 usage error.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import {
  decodeCredential,
  decodePresentation,
  decodeQr,
  fromHex,
  importPublicJwk,
  isCampusCardError,
  toHex,
} from '@campus-card/core';
import { createVerifier } from './create-verifier.js';
import { nodeBackend } from './node.js';

/** Where the CLI writes and reads; injectable for tests. */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly readFile: (path: string) => Uint8Array;
  /** The clock used when `--now` is absent, unix seconds. */
  readonly now: () => number;
}

const USAGE =
  'usage: campus-card-verify <qr-text> [--root jwk-file] [--trust-list file] [--status-list file] [--roster file] [--now s]';

function material(bytes: Uint8Array): Uint8Array {
  const text = new TextDecoder().decode(bytes).trim();
  return (/^[0-9a-fA-F]+$/.test(text) && fromHex(text)) || bytes;
}

/** Builds the unverified dump of a QR text. */
export function dumpQr(text: string): Record<string, unknown> {
  const dump: Record<string, unknown> = { textChars: text.length };
  try {
    const bytes = decodeQr(text);
    dump.presentationBytes = bytes.length;
    const p = decodePresentation(bytes);
    dump.mode = p.mode;
    dump.header = { alg: p.sign1.alg };
    dump.t = p.t;
    dump.nonce = toHex(p.nonce);
    dump.scene = p.scene ?? null;
    if (p.mode === 'compact') {
      dump.cardId = p.cardId;
      dump.holderKid = toHex(p.holderKid as Uint8Array);
    } else {
      const c = decodeCredential(p.credential as Uint8Array);
      dump.credentialBytes = (p.credential as Uint8Array).length;
      dump.credentialHeader = { alg: c.sign1.alg, kid: c.sign1.kid ? toHex(c.sign1.kid) : null };
      const { holderKey, ...claims } = c.claims;
      dump.claimsUnverified = {
        ...claims,
        holderKey: { alg: holderKey.alg, kid: toHex(holderKey.kid) },
      };
    }
  } catch (error) {
    dump.error = isCampusCardError(error) ? { code: error.code, message: error.message } : String(error);
  }
  return dump;
}

/**
 * Runs the CLI with `argv` (without node and the script). Returns the exit code.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const opts: Record<string, string> = {};
  let qr: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    }
    if (a.startsWith('--')) {
      const v = argv[++i];
      if (v === undefined || !['--root', '--trust-list', '--status-list', '--roster', '--now'].includes(a)) {
        io.err(USAGE);
        return 2;
      }
      opts[a.slice(2)] = v;
    } else if (qr === undefined) {
      qr = a;
    } else {
      io.err(USAGE);
      return 2;
    }
  }
  if (qr === undefined) {
    io.err(USAGE);
    return 2;
  }
  io.out(JSON.stringify({ qr: dumpQr(qr) }, null, 2));
  if (opts.root === undefined || opts['trust-list'] === undefined) return 0;
  const now = opts.now === undefined ? io.now() : Number(opts.now);
  if (!Number.isFinite(now)) {
    io.err('--now must be unix seconds');
    return 2;
  }
  try {
    const root = importPublicJwk(JSON.parse(new TextDecoder().decode(io.readFile(opts.root))));
    const verifier = createVerifier({ rootKeys: [root], backend: nodeBackend });
    const loads = [verifier.loadTrustList(material(io.readFile(opts['trust-list'])), { now })];
    if (opts['status-list'] !== undefined) {
      loads.push(verifier.loadStatusList(material(io.readFile(opts['status-list'])), { now }));
    }
    if (opts.roster !== undefined)
      loads.push(verifier.loadRoster(material(io.readFile(opts.roster)), { now }));
    const decision = await verifier.verify(qr, { now, reader: { id: 'campus-card-verify' } });
    io.out(JSON.stringify({ loads, decision }, null, 2));
    return decision.accepted ? 0 : 1;
  } catch (error) {
    io.err(`campus-card-verify: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

const isEntry =
  typeof process !== 'undefined' &&
  process.argv[1] !== undefined &&
  /campus-card-verify|cli\.[cm]?js$/.test(process.argv[1]);
if (isEntry) {
  main(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    readFile: (p) => new Uint8Array(readFileSync(p)),
    now: () => Math.floor(Date.now() / 1000),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
