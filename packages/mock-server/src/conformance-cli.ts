#!/usr/bin/env node
/**
 * `campus-card-conformance`: the vendor conformance suite's command line (issue 6).
 *
 * @module
 */

/** Runs the CLI with `argv` (without the node and script paths); resolves to the exit code. */
export async function main(_argv: readonly string[]): Promise<number> {
  process.stderr.write('campus-card-conformance: not implemented yet\n');
  return 2;
}
