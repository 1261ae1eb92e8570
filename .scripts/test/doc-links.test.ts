// The relative links of the documentation lead somewhere: every link of the READMEs and guides
// names a path that exists, and a `#fragment` into a Markdown file names one of its headings. The
// READMEs TypeDoc renders (README.md, packages/*/README.md) link only to files or package folders:
// TypeDoc copies a linked file into docs/api, warns about a linked folder, and `npm run docs`
// treats warnings as errors.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listPackages, repoRoot } from '../lib/packages.mjs';

const inDir = (dir: string) =>
  readdirSync(join(repoRoot, dir))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(dir, f));
const examples = readdirSync(join(repoRoot, 'examples'))
  .map((d) => join('examples', d, 'README.md'))
  .filter((f) => existsSync(join(repoRoot, f)));
const packageReadmes = listPackages().map((p) => relative(repoRoot, join(p.dir, 'README.md')));
const rendered = ['README.md', ...packageReadmes];
const docs = [...rendered, ...inDir('docs'), ...inDir('docs/guides'), ...inDir('docs/spec'), ...examples];

/** The Markdown text outside fenced code blocks. */
const prose = (text: string) => text.replace(/^```[\s\S]*?^```$/gm, '');

/** {@link prose} without its code spans either (a regex pattern in one is not a link). */
const linkable = (text: string) => prose(text).replace(/`[^`\n]*`/g, '``');

/** The relative links `[text](target)` of a Markdown file: its path and fragment. */
function links(file: string) {
  return [...linkable(readFileSync(join(repoRoot, file), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] as string)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => {
      const [path = '', fragment] = target.split('#');
      return {
        target,
        path: path === '' ? join(repoRoot, file) : resolve(repoRoot, dirname(file), path),
        fragment,
      };
    });
}

/** GitHub's heading anchors of a Markdown file. */
function anchors(file: string): Set<string> {
  const ids = new Set<string>();
  for (const m of prose(readFileSync(file, 'utf8')).matchAll(/^#+\s+(.*)$/gm)) {
    const text = (m[1] as string).replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    ids.add(
      text
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    );
  }
  return ids;
}

describe.each(docs)('%s', (file) => {
  it('links only to paths that exist, and to headings that exist', () => {
    for (const { target, path, fragment } of links(file)) {
      expect(existsSync(path), `${file}: ${target}`).toBe(true);
      if (fragment !== undefined && path.endsWith('.md')) {
        expect([...anchors(path)], `${file}: ${target}`).toContain(fragment);
      }
    }
  });

  if (rendered.includes(file)) {
    it('links to files or package folders only (TypeDoc renders it)', () => {
      const packageDirs = listPackages().map((p) => resolve(p.dir));
      for (const { target, path } of links(file)) {
        if (!existsSync(path) || statSync(path).isFile()) continue;
        expect(packageDirs, `${file}: ${target} is a folder`).toContain(resolve(path));
      }
    });
  }
});
