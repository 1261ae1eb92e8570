// The TypeScript of the READMEs is the real API: README.md's "A card in twenty lines" type-checks
// and runs (the first scan accepted, the second REPLAYED), and the usage blocks of the package
// READMEs type-check against the packages' sources, with the names they leave to the reader
// (the device key, the scanned text, the UI callbacks) declared below.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, expect, it } from 'vitest';
import { bundleForNode } from '../lib/bundle.mjs';
import { repoRoot } from '../lib/packages.mjs';

mkdirSync(join(repoRoot, '.tmp'), { recursive: true });
const dir = mkdtempSync(join(repoRoot, '.tmp', 'readme-snippets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const tsBlocks = (file: string) =>
  [...readFileSync(join(repoRoot, file), 'utf8').matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map(
    (m) => m[1] as string,
  );

/**
 * A module of the blocks' imports, then `prelude`, then the blocks, each in a scope nested in the
 * previous one's: a later block goes on with the names of the earlier ones, and may reuse a name.
 */
function snippetModule(blocks: readonly string[], prelude: string): string {
  const lines = blocks.join('\n').split('\n');
  const imports = lines.filter((l) => l.startsWith('import ')).join('\n');
  const scoped = blocks.map((b) =>
    b
      .split('\n')
      .filter((l) => !l.startsWith('import '))
      .join('\n'),
  );
  return `${imports}\n${prelude}\n${scoped.map((b) => `{\n${b}\n`).join('')}${'}'.repeat(scoped.length)}\nexport {};\n`;
}

/** Type errors of `files` under the repository's compiler options, as text. */
function typeErrors(files: readonly string[]): string[] {
  const base = ts.readConfigFile(join(repoRoot, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, repoRoot);
  const program = ts.createProgram(files, { ...options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

const preludes: Record<string, string> = {
  'packages/verifier/README.md': `
import { readFile, writeFile } from 'node:fs/promises';
import type { PublicKey } from '@campus-card/core';
declare const rootPublicKey: PublicKey, trustListBytes: Uint8Array, statusListBytes: Uint8Array;
declare const rosterBytes: Uint8Array, now: number, qrText: string, path: string;
declare const platformRoot: PublicKey, schoolRoot: PublicKey, oldRoot: PublicKey, newRoot: PublicKey;
declare function log(...args: unknown[]): void;
declare function open(...args: unknown[]): void;
declare function deny(...args: unknown[]): void;
declare function upload(decision: object): void;`,
  'packages/pos-client/README.md': `
import type { Jwk } from '@campus-card/core';
import type { OutboxStore } from '@campus-card/pos-client';
import type { Verifier } from '@campus-card/verifier';
declare const deviceJwk: Jwk, verifier: Verifier, scannedText: string, outbox: OutboxStore;
declare function printReceipt(outTradeNo: string): void;
declare function show(what: unknown): void;
declare function report(...args: unknown[]): void;`,
  'packages/gate-client/README.md': `
import type { Jwk } from '@campus-card/core';
declare const schoolRootJwk: Jwk, deviceJwk: Jwk, qrText: string;
declare function openGate(): void;
declare function showReason(reason: unknown): void;
declare function notifyOperator(alert: unknown): void;`,
};

it('the TypeScript blocks of the READMEs type-check', () => {
  const files = [join(dir, 'readme.ts')];
  const [card, ...others] = tsBlocks('README.md');
  expect(card, 'README.md has its card example').toBeDefined();
  expect(others).toEqual([]);
  writeFileSync(files[0] as string, card as string);
  for (const [readme, prelude] of Object.entries(preludes)) {
    const blocks = tsBlocks(readme);
    expect(blocks.length, readme).toBeGreaterThan(0);
    const file = join(dir, `${readme.split('/')[1]}.ts`);
    writeFileSync(file, snippetModule(blocks, prelude));
    files.push(file);
  }
  expect(typeErrors(files)).toEqual([]);
}, 60_000);

it("README.md's card in twenty lines runs: accepted, then REPLAYED", async () => {
  const bundle = join(dir, 'readme.mjs');
  writeFileSync(join(dir, 'card.ts'), tsBlocks('README.md')[0] as string);
  await bundleForNode(join(dir, 'card.ts'), bundle);
  const r = spawnSync(process.execPath, [bundle], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const accepted = [...r.stdout.matchAll(/accepted: (true|false)/g)].map((m) => m[1]);
  expect(accepted).toEqual(['true', 'false']);
  expect(r.stdout).toContain("reason: 'REPLAYED'");
}, 60_000);
