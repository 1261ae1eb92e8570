#!/usr/bin/env node
// `npm run bench -w <pkg>` → `node ../../scripts/run-bench.mjs <pkg>`.
//
// Node 20 cannot run .ts, so every packages/<pkg>/bench/*.ts is bundled with esbuild into
// packages/<pkg>/.tmp/bench/*.mjs and then run with node, one after the other, with stdout and
// stderr passed through (each bench prints JSON lines {"name","value","unit"}).
//
// Bundling rules:
// - `@campus-card/*` and relative imports are bundled from src/ (the `@campus-card/source`
//   export condition), so no build is needed first.
// - Every other bare import (third-party packages, node builtins) stays external, so native
//   modules (better-sqlite3, cbor-extract) load as usual. It is resolved by esbuild from the
//   importing file and emitted as an absolute path, so a dependency nested under another
//   workspace package's node_modules is still found when the bundle runs from .tmp/bench.
//
// Usage: node scripts/run-bench.mjs <package> [filter]   (filter: substring of a bench file name)
// Exits 1 if a bench fails to bundle or exits non-zero.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { findPackage } from './lib/packages.mjs';

const [target, filter] = process.argv.slice(2);
if (!target) {
  console.error('usage: node scripts/run-bench.mjs <package> [filter]');
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

/** Keeps third-party packages external; bundles @campus-card/* and relative files. */
const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@campus-card/')) return undefined; // bundle workspace source
      if (args.pluginData?.fromExternalPlugin) return undefined; // our own resolve call below
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { fromExternalPlugin: true },
      });
      // Builtins without the node: prefix and anything esbuild cannot resolve stay bare.
      if (resolved.errors.length > 0 || !resolved.path || resolved.external) {
        return { path: args.path, external: true };
      }
      return { path: resolved.path, external: true };
    });
  },
};

let failed = 0;
for (const file of files) {
  const name = basename(file, '.ts');
  const outfile = join(outDir, `${name}.mjs`);
  try {
    await build({
      entryPoints: [join(benchDir, file)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@campus-card/source'],
      sourcemap: 'inline',
      logLevel: 'warning',
      plugins: [externalThirdParty],
    });
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
