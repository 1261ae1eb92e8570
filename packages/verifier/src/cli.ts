#!/usr/bin/env node
/**
 * `campus-card-verify`: a debugging tool for vendors. Prints a readable dump of a QR text (decoded
 * without verification) and, given trust material, the verifier's decision as JSON.
 *
 * ```
 * campus-card-verify <qr-text> [--root [<authority>=]<jwk-file>]... --trust-list <file>...
 *                    [--status-list <file>]... [--roster <file>] [--now <unix-seconds>]
 * ```
 * Options take their value as the next argument or after `=` (`--root=root.jwk`). `--root`,
 * `--trust-list` and `--status-list` may be repeated; `--roster` and `--now` may not. `--root`
 * takes a JWK or the platform's `{ "school_id", "jwk" }` root-key answer. One root may be given bare
 * (`--root root.jwk`): it anchors whatever authority its trust lists state. `--root platform=<file>`
 * or `--root <school_id>=<file>` binds a root to the authority whose trust lists it signs (spec §3);
 * with several roots each must be bound, and a root-key answer given bare is bound to its
 * `school_id` (a bound one must name the same school). Trust lists load in order, then status
 * lists, then the roster: the verifier holds one trust list per authority and one status list per
 * school; the decision's `audit.trustListAuthority` names the authority whose list vouched for the
 * card. Material files hold the signed bytes, raw or as hex text (whitespace and line breaks
 * ignored, as `xxd -p` writes it), or are a gate client's stored copy (`material/*.json`).
 *
 * Every root is read and bound, and every material file read, before the dump is printed: a usage
 * error, a file that cannot be read, or a file given to an option that does not take it (a status
 * list as `--trust-list`, a QR text, the mock's whole startup output as `--root`: what it is is
 * read from it unverified, with core's `decode*`) stops the command with no dump. A trust list
 * refused `UNKNOWN_ISSUER` is named with the authority it states and the root that signed it (the
 * `--root` bound to another authority, or the kid of a root not given), and a status list or
 * roster then refused `NO_TRUST_LIST` says the trust lists given were refused. A dump whose Base45
 * does not decode has a `hint`: double quotes let a shell expand the `$` of Base45 text.
 *
 * Exit codes ({@link EXIT_CODES}): 0 accepted, or (dump only) the QR text decodes;
 * 1 denied, or (dump only) the QR text does not decode; 2 usage error, or material unreadable,
 * given to the wrong option, or refused (each file named on stderr; no dump but for a refusal).
 * Material that is only too old for `--now` is no refusal: the verifier holds it, as a gate would,
 * and the decision denies the code `*_STALE` (exit 1).
 *
 * This file is the command itself, the one that uses Node (files, stdio, the clock); what it runs is
 * in `cli/`: the command line (`args`, `root-option`, `usage`), the roots (`root-key`), material
 * files (`material-file`, `identify`), the flow (`main`, `prepare`, `refusal`) and the dump
 * (`dump-qr`).
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXIT_CODES } from './cli/exit-codes.js';
import { main } from './cli/main.js';

export type { CliIo } from './cli/cli-io.js';
export { dumpQr } from './cli/dump-qr.js';
export { EXIT_CODES } from './cli/exit-codes.js';
export { main } from './cli/main.js';

/** Whether this module is the program node runs (not imported), whatever the file is named. */
function isMain(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  // a reader that stops early (`campus-card-verify … | head`) closes the pipe: that is no error
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
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
      process.stderr.write(`campus-card-verify: ${String(error)}\n`);
      process.exitCode = EXIT_CODES.usage;
    },
  );
}
