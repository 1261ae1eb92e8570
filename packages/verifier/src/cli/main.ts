/**
 * The flow of `campus-card-verify`: the command line, the material, the dump and the decision.
 *
 * @module
 */
import { toHex } from '@campus-card/core';
import { type Args, checkArgs, parseArgs } from './args.js';
import type { CliIo } from './cli-io.js';
import { dumpQr } from './dump-qr.js';
import { UsageError } from './errors.js';
import { EXIT_CODES } from './exit-codes.js';
import { prepare, type Setup } from './prepare.js';
import { refusal } from './refusal.js';
import { USAGE } from './usage.js';

/**
 * Runs the CLI with `argv` (without node and the script). Resolves to the exit code
 * ({@link EXIT_CODES}).
 *
 * @example
 * ```ts
 * const code = await main(['CC1:…', '--root', 'root.jwk', '--trust-list', 'tl.bin'], io);
 * // the platform's root and school 10001's, each with its trust list
 * await main(['CC1:…', '--root', 'platform=platform.jwk', '--root', '10001=school.jwk',
 *   '--trust-list', 'platform-tl.bin', '--trust-list', 'school-tl.bin'], io);
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
    checkArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`campus-card-verify: ${error.message}`);
    io.err(USAGE);
    return EXIT_CODES.usage;
  }
  const { qr, opts } = args;
  if (args.help || qr === undefined) {
    io.out(USAGE);
    return EXIT_CODES.ok;
  }
  // every file is read, and every root bound, before the dump: a usage error or a file that cannot
  // be read or is given to the wrong option prints no dump
  let setup: Setup | undefined;
  if (opts.root.length > 0 && opts['trust-list'].length > 0) {
    try {
      setup = prepare(args, io);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      for (const line of message.split('\n')) io.err(`campus-card-verify: ${line}`);
      if (error instanceof UsageError) io.err(USAGE);
      return EXIT_CODES.usage;
    }
  }
  const dump = dumpQr(qr);
  io.out(JSON.stringify({ qr: dump }, null, 2));
  if (setup === undefined) return dump.error === undefined ? EXIT_CODES.ok : EXIT_CODES.denied;
  const { roots, verifier } = setup;
  const now = opts.now[0] === undefined ? io.now() : Number(opts.now[0]);
  // trust lists first, in order (one held per authority), then the status lists and the roster
  // they vouch for
  const loads = [
    ...setup.trustLists.map((m) => ({ ...m, result: verifier.loadTrustList(m.bytes, { now }) })),
    ...setup.statusLists.map((m) => ({ ...m, result: verifier.loadStatusList(m.bytes, { now }) })),
    ...setup.roster.map((m) => ({ ...m, result: verifier.loadRoster(m.bytes, { now }) })),
  ];
  const decision = await verifier.verify(qr, { now, reader: { id: 'campus-card-verify' } });
  io.out(
    JSON.stringify(
      {
        // authority null: a bare root, anchoring whatever authority its lists state
        roots: roots.map((r) => ({
          file: r.option.file,
          authority: r.authority ?? null,
          kid: toHex(r.key.kid),
        })),
        loads: loads.map((l) => ({ file: l.path, ...l.result })),
        decision,
      },
      null,
      2,
    ),
  );
  // material the verifier refused (not its format, a bad signature, an unknown issuer, a root that
  // does not anchor its authority): the decision was not made with what was given, so it is no
  // answer about the card. Stale material is not refused at load (a gate holds it too): the
  // decision denies the code *_STALE, exit 1, which is the answer a gate holding that material
  // gives at that time (--now shows another)
  const trustListsRefused = loads.filter((l) => l.result.material === 'trustList' && !l.result.ok).length;
  const refused = loads.flatMap((l) =>
    l.result.ok ? [] : [`${l.label}: ${refusal(l.result, l.bytes, roots, trustListsRefused)}`],
  );
  if (refused.length > 0) {
    for (const r of refused) io.err(`campus-card-verify: ${r}`);
    return EXIT_CODES.usage;
  }
  return decision.accepted ? EXIT_CODES.ok : EXIT_CODES.denied;
}
