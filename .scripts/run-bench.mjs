#!/usr/bin/env node
// `npm run bench -w <pkg>` → `node ../../.scripts/run-bench.mjs <pkg>`.
//
// Node 20 cannot run .ts, so every packages/<pkg>/bench/*.ts is bundled with esbuild into
// packages/<pkg>/.tmp/bench/*.mjs and then run with node, one after the other, with stdout and
// stderr passed through (each bench prints JSON lines {"name","value","unit"}).
//
// Bundling rules: see .scripts/lib/bundle.mjs (workspace packages from src/, third-party external).
//
// Usage: node .scripts/run-bench.mjs <package> [filter]   (filter: substring of a bench file name)
// Exits 1 if a bench fails to bundle or exits non-zero.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bundleForNode } from './lib/bundle.mjs';
import { findPackage } from './lib/packages.mjs';

const [target, filter] = process.argv.slice(2);
if (!target) {
  console.error('usage: node .scripts/run-bench.mjs <package> [filter]');
  process.exit(2);
}

const p = findPackage(target);
const benchDir = join(p.dir, 'bench');
const outDir = join(p.dir, '.tmp', 'bench');

const files = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .filter((f) => !filter || f.includes(filter))
      .sort()
  : [];
if (files.length === 0) {
  console.error(`${p.name}: no bench/*.ts${filter ? ` matching "${filter}"` : ''}; nothing to run`);
  process.exit(0);
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });

let failed = 0;
for (const file of files) {
  const name = basename(file, '.ts');
  const outfile = join(outDir, `${name}.mjs`);
  try {
    await bundleForNode(join(benchDir, file), outfile);
  } catch (error) {
    failed += 1;
    console.error(`${p.name}: bundling bench/${file} failed: ${error.message}`);
    continue;
  }
  const code = await runNode(outfile);
  if (code !== 0) {
    failed += 1;
    console.error(`${p.name}: bench/${file} exited with ${code}`);
  }
}

if (failed > 0) {
  console.error(`${p.name}: ${failed} of ${files.length} bench file(s) failed`);
  process.exit(1);
}

function runNode(file) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], { cwd: p.dir, stdio: 'inherit' });
    child.on('error', () => resolve(127));
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
