import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadVerifierPlan } from '../../src/conformance/verifier/plan.js';
import { defaultVectorsDir } from '../../src/conformance/verifier/vectors.js';
import { main } from '../../src/conformance-cli.js';
import { testDir } from '../helpers.js';
import { captureIo } from './test-io.js';

const vectors = defaultVectorsDir() as string;
const folder = () => testDir('conformance-vectors-');

describe('the vectors folder (--vectors)', () => {
  it('a folder without vectors is refused: the plan would pass having checked no vector', async () => {
    const empty = folder();
    expect(() => loadVerifierPlan(empty)).toThrow(`no vector (*.json) in ${empty}`);
    const s = captureIo();
    expect(await main(['run', '--plan', 'verifier', '--target', 'builtin', '--vectors', empty], s.io)).toBe(
      2,
    );
    expect(s.out.stderr).toContain(`no vector (*.json) in ${empty}`);
    expect(s.out.stdout).toBe('');
  });

  it('a JSON file that is not a vector is refused, naming the file and the field', () => {
    const dir = folder();
    copyFileSync(join(vectors, 'valid-es256-full.json'), join(dir, 'valid-es256-full.json'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0' }));
    expect(() => loadVerifierPlan(dir)).toThrow(
      `${join(dir, 'package.json')} is not a vector (token-format §10): "description" must be a string`,
    );
    writeFileSync(join(dir, 'package.json'), '{"name": ');
    expect(() => loadVerifierPlan(dir)).toThrow(`${join(dir, 'package.json')} is not JSON`);
  });

  it('a vector whose expected result contradicts itself is refused', () => {
    const dir = folder();
    const v = JSON.parse(readFileSync(join(vectors, 'valid-es256-full.json'), 'utf8'));
    writeFileSync(join(dir, 'v.json'), JSON.stringify({ ...v, expected: { valid: false, code: null } }));
    expect(() => loadVerifierPlan(dir)).toThrow('"expected.code" must be a core error code when invalid');
  });

  it("the repository's vectors load", () => {
    expect(loadVerifierPlan(vectors).modules.length).toBeGreaterThan(8);
  });
});
