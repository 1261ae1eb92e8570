#!/usr/bin/env node
// `npm start`: runs the mock platform (packages/mock-server/src/cli.ts) from source.
//
// Node 20 cannot run .ts, so the CLI is bundled with esbuild into .tmp/start/cli.mjs first
// (workspace packages from src/, third-party packages external: see .scripts/lib/bundle.mjs).
// PORT defaults to 8080; arguments after `npm start --` are passed to the CLI, e.g.
// `PORT=9000 npm start` or `npm start -- --help`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { bundleForNode } from './lib/bundle.mjs';
import { repoRoot } from './lib/packages.mjs';

const cli = join(repoRoot, 'packages', 'mock-server', 'src', 'cli.ts');
if (!existsSync(cli)) {
  console.log(
    'The mock platform CLI (packages/mock-server/src/cli.ts) does not exist yet; `npm start` will run it once it does.',
  );
  process.exit(0);
}

const outDir = join(repoRoot, '.tmp', 'start');
mkdirSync(outDir, { recursive: true });
const outfile = join(outDir, 'cli.mjs');
try {
  await bundleForNode(cli, outfile);
} catch (error) {
  console.error(`npm start: bundling ${cli} failed: ${error.message}`);
  process.exit(1);
}

const child = spawn(process.execPath, ['--enable-source-maps', outfile, ...process.argv.slice(2)], {
  cwd: repoRoot,
  stdio: 'inherit',
  env: { ...process.env, PORT: process.env.PORT || '8080' },
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('error', (error) => {
  console.error(`npm start: ${error.message}`);
  process.exit(1);
});
child.on('close', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
