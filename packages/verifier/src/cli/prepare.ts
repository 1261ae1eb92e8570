/**
 * What a verifying run of `campus-card-verify` reads before it prints anything: the roots, bound,
 * the verifier, and every material file.
 *
 * @module
 */
import { createVerifier } from '../create-verifier.js';
import { nodeBackend } from '../node.js';
import type { Args } from './args.js';
import type { CliIo } from './cli-io.js';
import { MaterialFileError } from './errors.js';
import { identify, TAKES } from './identify.js';
import { type MaterialFile, material } from './material-file.js';
import { bindRoots, type Root, rootKey } from './root-key.js';

/** What a verifying run holds before it prints the dump. */
export interface Setup {
  readonly roots: readonly Root[];
  readonly verifier: ReturnType<typeof createVerifier>;
  readonly trustLists: readonly MaterialFile[];
  readonly statusLists: readonly MaterialFile[];
  readonly roster: readonly MaterialFile[];
}

/**
 * Reads the roots and binds them, makes the verifier and reads every material file, refusing each
 * file given to an option that does not take it ({@link identify}), all before anything loads.
 *
 * @throws {@link UsageError} for roots that cannot be bound; {@link MaterialFileError} for a file
 * that cannot be read, or files given to the wrong option (one line each); the verifier's own
 * `TypeError` for root keys it refuses.
 */
export function prepare(args: Args, io: CliIo): Setup {
  const file = (label: string, path: string) => {
    try {
      return io.readFile(path);
    } catch (error) {
      throw new MaterialFileError(`${label}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const roots = bindRoots(
    args.roots.map((option) => {
      const label = `--root ${option.given}`;
      const bytes = file(label, option.file);
      try {
        return { option, ...rootKey(bytes) };
      } catch (error) {
        throw new MaterialFileError(`${label}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
  const verifier = createVerifier({
    rootKeys: roots.map((r) => (r.authority === undefined ? r.key : { key: r.key, authority: r.authority })),
    backend: nodeBackend,
  });
  const misplaced: string[] = [];
  const read = (option: 'trust-list' | 'status-list' | 'roster', path: string): MaterialFile => {
    const label = `--${option} ${path}`;
    const raw = file(label, path);
    const found = identify(raw);
    if (found !== undefined && found.option !== option) {
      misplaced.push(`${label}: this ${found.is}, ${TAKES[option]}: ${found.fix}`);
    }
    return { label, path, bytes: material(raw, label) };
  };
  const { opts } = args;
  const trustLists = opts['trust-list'].map((p) => read('trust-list', p));
  const statusLists = opts['status-list'].map((p) => read('status-list', p));
  const roster = opts.roster.map((p) => read('roster', p));
  if (misplaced.length > 0) throw new MaterialFileError(misplaced.join('\n'));
  return { roots, verifier, trustLists, statusLists, roster };
}
