// Runs a package's command from its TypeScript source: the in-repository half of the bin
// launchers in packages/*/bin/. A clone has no dist/ (it is built, not committed), so without this
// `npx campus-card-mock` and the other commands would need `npm run build` first, and a stale
// dist/ would run old code.
//
// It bundles the .ts entry with bundleForNode (workspace packages from src/, third-party packages
// external) into <repo>/.tmp/bin/, makes the bundle the main module (process.argv[1], which the
// CLIs compare with their own file to decide to run) and imports it, in this process: stdio,
// signals and the exit code are the CLI's own. The bundle is deleted when the process exits (or,
// if a signal killed it first, by the next run).
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { repoRoot } from './packages.mjs';

/**
 * @param {URL} entry - the CLI's .ts file
 * @param {string} name - the command, for the bundle's file name and error messages
 */
export async function runSource(entry, name) {
  let bundleForNode;
  try {
    ({ bundleForNode } = await import('./bundle.mjs'));
  } catch (error) {
    fail(
      `${name}: running from the repository's source needs its dev dependencies (npm install): ${error.message}`,
    );
  }
  const outDir = join(repoRoot, '.tmp', 'bin');
  mkdirSync(outDir, { recursive: true });
  removeOrphans(outDir);
  const outfile = join(outDir, `${name}-${process.pid}.mjs`);
  process.on('exit', () => rmSync(outfile, { force: true }));
  try {
    await bundleForNode(fileURLToPath(entry), outfile);
  } catch (error) {
    fail(`${name}: bundling ${fileURLToPath(entry)} failed: ${error.message}`);
  }
  process.argv[1] = outfile;
  await import(pathToFileURL(outfile).href);
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

/** Removes the bundles of processes that are gone without their exit hook (killed by a signal). */
function removeOrphans(dir) {
  for (const file of readdirSync(dir)) {
    const pid = Number(/-(\d+)\.mjs$/.exec(file)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0); // still running: its bundle is in use
    } catch (error) {
      if (error.code === 'ESRCH') rmSync(join(dir, file), { force: true });
    }
  }
}
