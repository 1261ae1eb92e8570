// Repository hygiene checks that need no build.
//
// 1. Purity: core and verifier run in gates, POS terminals, phones and browsers, so their
//    src/ never imports Node builtins, never touches Buffer or process, and never reads the
//    clock on its own (time is always passed in). Node-only files are listed in ALLOWED.
// 2. Every package has a README.md, a description and `"sideEffects": false`.
// 3. Every error code a package's src/errors.ts declares is raised somewhere in its src/.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listPackages, repoRoot } from '../lib/packages.mjs';

/** Source files allowed to use Node APIs, relative to the repo root (prefix match). */
const ALLOWED = [
  'packages/verifier/src/node.ts',
  'packages/verifier/src/cli.ts',
  'packages/core/src/transport',
];
const PURE_PACKAGES = ['core', 'verifier'];

function listTs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((entry) => {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) return listTs(full);
    return entry.endsWith('.ts') ? [full] : [];
  });
}

/**
 * Blanks comments (always) and the contents of string/template literals (with `blankStrings`),
 * keeping offsets and line numbers. A small scanner, good enough for our own source: it does
 * not understand regex literals, which our purity rules do not need.
 */
function stripCode(text: string, blankStrings: boolean): string {
  let out = '';
  let i = 0;
  const blank = (s: string) => s.replace(/[^\n]/g, ' ');
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? text.length : end;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : end + 2;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      const body = text.slice(i + 1, j);
      out += c + (blankStrings ? blank(body) : body) + (j < text.length ? c : '');
      i = j + 1;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}

interface Finding {
  file: string;
  line: number;
  rule: string;
  text: string;
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const IMPORT_SPECIFIER =
  /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]|\bimport\s+['"]([^'"]+)['"]|\brequire\s*\(\s*['"]([^'"]+)['"]/g;
const CODE_RULES: Array<[string, RegExp]> = [
  ['Buffer', /(?<![\w$.])Buffer\b/g],
  ['process', /(?<![\w$.])process\s*[.[]|\bglobalThis\s*\.\s*process\b/g],
  ['Date.now()', /(?<![\w$.])Date\s*\.\s*now\s*\(/g],
  ['new Date() without an argument', /\bnew\s+Date\s*(?:\(\s*\)|(?![\s(]))/g],
  ['Date() called as a function', /(?<![\w$.]|new\s)Date\s*\(\s*\)/g],
];

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function findImpurities(file: string, source: string): Finding[] {
  const findings: Finding[] = [];
  const noComments = stripCode(source, false);
  const codeOnly = stripCode(source, true);
  const lines = source.split('\n');
  const add = (index: number, rule: string) => {
    const line = lineOf(noComments, index);
    findings.push({ file, line, rule, text: (lines[line - 1] ?? '').trim() });
  };
  for (const m of noComments.matchAll(IMPORT_SPECIFIER)) {
    const specifier = m[1] ?? m[2] ?? m[3] ?? m[4] ?? '';
    if (builtins.has(specifier) || specifier.startsWith('node:'))
      add(m.index, `imports Node builtin "${specifier}"`);
  }
  for (const [rule, pattern] of CODE_RULES) {
    for (const m of codeOnly.matchAll(pattern)) add(m.index, `uses ${rule}`);
  }
  return findings;
}

describe('purity of core and verifier src/', () => {
  it('flags what it should (self-test of the scanner)', () => {
    const sample = [
      "import { readFileSync } from 'node:fs';",
      "import crypto from 'crypto';",
      "const x = await import('node:path');",
      'const b = Buffer.from([1]);',
      'const e = process.env.X;',
      'const t = Date.now();',
      'const d = new Date();',
      'const ok1 = new Date(ms); // Date.now() in a comment is fine',
      "const ok2 = 'process.env and Buffer in a string are fine';",
      'const ok3 = job.process(); const ok4 = { process: 1 };',
    ].join('\n');
    const rules = findImpurities('sample.ts', sample).map((f) => `${f.line}:${f.rule}`);
    expect(rules).toEqual([
      '1:imports Node builtin "node:fs"',
      '2:imports Node builtin "crypto"',
      '3:imports Node builtin "node:path"',
      '4:uses Buffer',
      '5:uses process',
      '6:uses Date.now()',
      '7:uses new Date() without an argument',
    ]);
  });

  for (const name of PURE_PACKAGES) {
    it(`packages/${name}/src uses no Node APIs and reads no clock`, () => {
      const files = listTs(join(repoRoot, 'packages', name, 'src'))
        .map((f) => relative(repoRoot, f).split('\\').join('/'))
        .filter((f) => !ALLOWED.some((allowed) => f.startsWith(allowed)));
      const findings = files.flatMap((f) => findImpurities(f, readFileSync(join(repoRoot, f), 'utf8')));
      const report = findings.map((f) => `${f.file}:${f.line}: ${f.rule}: ${f.text}`).join('\n');
      expect(findings, `Node-only code belongs in ${ALLOWED.join(', ')}:\n${report}`).toEqual([]);
    });
  }
});

describe.each(listPackages())('$name package metadata', ({ dir, pkg }) => {
  it('has a README.md', () => {
    expect(existsSync(join(dir, 'README.md'))).toBe(true);
  });
  it('has a description', () => {
    expect(typeof pkg.description === 'string' && pkg.description.trim().length > 0).toBe(true);
  });
  it('declares "sideEffects": false', () => {
    expect(pkg.sideEffects).toBe(false);
  });
});

// 3. Every error code a package declares in its src/errors.ts is raised somewhere in its src/
//    (named a second time, quoted: in a throw, a subclass or a check), not only declared: a
//    documented code nothing raises sends integrators after a case that never comes.
describe.each(listPackages().filter(({ dir }) => existsSync(join(dir, 'src', 'errors.ts'))))(
  '$name error codes',
  ({ dir }) => {
    it('every code declared in src/errors.ts is raised somewhere in src/', () => {
      const declared = new Set(
        readFileSync(join(dir, 'src', 'errors.ts'), 'utf8').match(/'ERR_[A-Z0-9_]+'/g),
      );
      expect(declared.size).toBeGreaterThan(0);
      const all = listTs(join(dir, 'src'))
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
      const count = (code: string) => all.split(code).length - 1;
      expect([...declared].filter((code) => count(code) < 2)).toEqual([]);
    });
  },
);
