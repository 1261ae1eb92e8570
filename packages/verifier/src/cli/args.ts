/**
 * The command line of `campus-card-verify`: its options, how they are read, and the checks across
 * them.
 *
 * @module
 */
import { UsageError } from './errors.js';
import { type RootOption, rootOption } from './root-option.js';

/** The options that take a value. */
export const OPTIONS = ['root', 'trust-list', 'status-list', 'roster', 'now'] as const;
/** An option that takes a value. */
export type OptionName = (typeof OPTIONS)[number];
/** The options that may be given more than once (each value kept, in order). */
const REPEATABLE: readonly OptionName[] = ['root', 'trust-list', 'status-list'];

/** A command line, read by {@link parseArgs}. */
export interface Args {
  readonly help: boolean;
  readonly qr: string | undefined;
  /** Each option's values in the order given (one at most for an option not {@link REPEATABLE}). */
  readonly opts: Readonly<Record<OptionName, readonly string[]>>;
  readonly roots: readonly RootOption[];
}

/**
 * Reads a command line (without node and the script): `--help`, the QR text and each option's
 * values, and the `--root` values as {@link RootOption}s.
 *
 * @throws {@link UsageError} for an unknown option, one without a value or given twice (not
 * repeatable), a `--root` value that binds no authority, or not exactly one QR text.
 */
export function parseArgs(argv: readonly string[]): Args {
  const opts: Record<OptionName, string[]> = {
    root: [],
    'trust-list': [],
    'status-list': [],
    roster: [],
    now: [],
  };
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { help: true, qr: undefined, opts, roots: [] };
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq === -1 ? a : a.slice(0, eq);
    const name = flag.slice(2) as OptionName;
    if (!flag.startsWith('--') || !OPTIONS.includes(name)) {
      throw new UsageError(`unknown option ${flag}`);
    }
    let value: string | undefined;
    if (eq !== -1) {
      value = a.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value?.startsWith('--')) {
        throw new UsageError(`${flag} needs a value, got the option ${value}`);
      }
      i++;
    }
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    if (opts[name].length > 0 && !REPEATABLE.includes(name)) {
      throw new UsageError(`${flag} is given twice`);
    }
    opts[name].push(value);
  }
  if (positionals.length === 0) throw new UsageError('the QR text is missing');
  if (positionals.length > 1) {
    const shown = positionals.map((p) => JSON.stringify(p.length > 24 ? `${p.slice(0, 24)}…` : p));
    throw new UsageError(
      `one QR text expected, got ${positionals.length} arguments (${shown.join(', ')}): ` +
        `a QR text contains spaces, so quote it, e.g. campus-card-verify 'CC1:…'`,
    );
  }
  return { help: false, qr: positionals[0], opts, roots: opts.root.map(rootOption) };
}

/**
 * The checks across the options of a command line read by {@link parseArgs}: `--root` and
 * `--trust-list` both or neither (with any other option), and `--now` in unix seconds.
 *
 * @throws {@link UsageError} for a command line that fails one.
 */
export function checkArgs(args: Args): void {
  const { opts } = args;
  const given = OPTIONS.filter((o) => opts[o].length > 0);
  const missing = (['root', 'trust-list'] as const).filter((o) => opts[o].length === 0);
  if (given.length > 0 && missing.length > 0) {
    const list = (names: readonly string[]) => names.map((o) => `--${o}`).join(', ');
    throw new UsageError(
      `${list(given)} given without ${list(missing)}: verifying needs both --root and --trust-list`,
    );
  }
  const nowText = opts.now[0];
  // the verifier's own bound: a time of 10^11 or more is in milliseconds, not seconds. The value
  // is bounded, not the number of digits: zero-padded seconds (0001767225600, a fixed-width log
  // field) are the same time, and Number() reads decimal digits as decimal
  if (nowText !== undefined && !(/^\d+$/.test(nowText) && Number(nowText) < 1e11)) {
    throw new UsageError(
      `invalid --now ${nowText}: unix seconds, decimal digits only, below 10^11 (a time in milliseconds is refused)`,
    );
  }
}
