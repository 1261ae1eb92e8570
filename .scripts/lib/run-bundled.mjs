// Runs a .ts program on Node 20 (which cannot run .ts): bundles it with bundleForNode into
// `<dir>/.tmp/`, runs it with this process's stdio and environment, forwards SIGTERM/SIGINT, removes
// the bundle and exits with the child's code. Shared by the launchers in examples/*/run.mjs.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { bundleForNode } from './bundle.mjs';

/**
 * @param {string} dir - the folder of the program (its `.tmp/` receives the bundle)
 * @param {string} entry - the .ts file, relative to `dir`
 * @param {string[]} args - arguments for the program
 */
export async function runBundled(dir, entry, args) {
  const outfile = join(dir, '.tmp', `${basename(entry, '.ts')}-${process.pid}.mjs`);
  await bundleForNode(resolve(dir, entry), outfile);
  const child = spawn(process.execPath, [outfile, ...args], { stdio: 'inherit' });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    rmSync(outfile, { force: true });
    process.exit(code ?? (signal ? 1 : 0));
  });
}
