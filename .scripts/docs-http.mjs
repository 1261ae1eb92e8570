#!/usr/bin/env node
// `npm run docs:http`: writes docs/http-api.md, the Markdown reference of the HTTP API, rendered
// from the OpenAPI document of `@campus-card/core/api`:
// `renderApiReference(buildOpenApiDocument())`, exactly what
// packages/core/test/api/render-markdown.test.ts compares the committed file with.
//
// Node 20 cannot run .ts, so the api entry is bundled with esbuild into .tmp/docs-http/ first
// (workspace packages from src/, third-party packages external: see .scripts/lib/bundle.mjs).
//
// Usage: node .scripts/docs-http.mjs [--check]   (--check: exit 1 if the file is out of date)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundleForNode } from './lib/bundle.mjs';
import { repoRoot } from './lib/packages.mjs';

const entry = join(repoRoot, 'packages', 'core', 'src', 'api.ts');
const outDir = join(repoRoot, '.tmp', 'docs-http');
const bundle = join(outDir, `api-${process.pid}.mjs`);
const target = join(repoRoot, 'docs', 'http-api.md');

mkdirSync(outDir, { recursive: true });
let markdown;
try {
  await bundleForNode(entry, bundle);
  const api = await import(pathToFileURL(bundle).href);
  markdown = api.renderApiReference(api.buildOpenApiDocument());
} catch (error) {
  console.error(`docs:http: rendering failed: ${error.message}`);
} finally {
  rmSync(bundle, { force: true });
}
if (typeof markdown !== 'string') process.exit(1);

let current = '';
try {
  current = readFileSync(target, 'utf8');
} catch {
  // no file yet
}
if (process.argv.includes('--check')) {
  if (current !== markdown) {
    console.error('docs/http-api.md is out of date: run `npm run docs:http`');
    process.exit(1);
  }
  console.log('docs/http-api.md is up to date');
} else if (current === markdown) {
  console.log(`docs/http-api.md is up to date (${markdown.length} characters)`);
} else {
  writeFileSync(target, markdown);
  console.log(`wrote docs/http-api.md (${markdown.length} characters)`);
}
