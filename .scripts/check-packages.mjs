#!/usr/bin/env node
// `npm run check:pkg`: build every workspace package with tsup, then check what would be
// published with `publint --strict` and `attw --pack --profile esm-only`.
//
// Usage: node .scripts/check-packages.mjs [package ...]   (directory names, e.g. `core verifier`)
// Exits 1 if any step fails; prints a summary table at the end. Packages with "private": true are
// skipped unless named.
import { attw, buildPackage, findPackage, listPackages, publint, tail } from './lib/packages.mjs';

const selected = process.argv.slice(2);
// Private packages are not published; check them only when named explicitly.
const packages =
  selected.length > 0 ? selected.map(findPackage) : listPackages().filter((p) => p.pkg.private !== true);

const rows = [];
let failed = false;

for (const p of packages) {
  const row = { package: p.name, build: 'skipped', publint: 'skipped', attw: 'skipped' };
  rows.push(row);
  console.log(`\n── ${p.name} ──`);

  const build = await buildPackage(p);
  row.build = describe(build);
  if (build.code !== 0) {
    failed = true;
    console.error(`build failed (${build.command}, ${build.ms} ms):\n${tail(build)}`);
    continue; // publint and attw pack dist, which is missing or stale
  }
  console.log(`build ok (${build.ms} ms)`);

  for (const [step, check] of [
    ['publint', publint],
    ['attw', attw],
  ]) {
    const result = await check(p);
    row[step] = describe(result);
    if (result.code !== 0) {
      failed = true;
      console.error(`${step} failed (${result.command}):\n${tail(result, 60)}`);
    } else {
      console.log(`${step} ok (${result.ms} ms)`);
    }
  }
}

console.log('');
console.table(rows);
if (failed) {
  console.error('check:pkg failed');
  process.exitCode = 1;
} else {
  console.log('check:pkg: all packages build and pass publint --strict and attw (esm-only)');
}

function describe(result) {
  return `${result.code === 0 ? 'ok' : `FAIL (${result.code})`} ${(result.ms / 1000).toFixed(1)}s`;
}
