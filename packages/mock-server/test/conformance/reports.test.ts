import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../../src/conformance/model.js';
import { toHtml, toJunit, writeReports } from '../../src/conformance/reports.js';
import { buildNotRunReport, buildReport, runPlan } from '../../src/conformance/runner.js';
import { testDir } from '../helpers.js';

/** What a hostile or buggy product can put into a reason, a name or an error message. */
const HOSTILE = `x]]></failure><script>alert(1)</script>\u0000\u0001\u0007\u001b[31m\ud800-\udfff\ufffe\uffff"'&\t\r\nend 😀`;

async function hostileReport(): Promise<Report> {
  const plan = await runPlan(
    {
      id: 'verifier',
      title: 'T',
      modules: [
        {
          id: 'm',
          title: 'M',
          async run(ctx) {
            await ctx.check({ id: 'failed', title: HOSTILE, spec: [HOSTILE] }, () => ({
              status: 'FAILED',
              message: HOSTILE,
            }));
            await ctx.check({ id: 'warned', title: 't', spec: [] }, () => ({
              status: 'WARNING',
              message: HOSTILE,
            }));
            ctx.skip({ id: 'skipped', title: 't', spec: [] }, HOSTILE);
          },
        },
      ],
    },
    null,
    { targetLabel: HOSTILE, product: { name: HOSTILE } },
  );
  return buildReport([plan]);
}

/** Every character XML 1.0 allows (the `Char` production, XML 1.0 §2.2). */
const XML_CHARS = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;

describe('JUnit XML', () => {
  it('holds only characters XML 1.0 allows, whatever the product wrote', async () => {
    const xml = toJunit(await hostileReport());
    expect(XML_CHARS.test(xml)).toBe(true);
    // the hostile text never closes or opens an element
    expect(xml.match(/<failure /g)?.length).toBe(1);
    expect(xml).not.toContain('<script>');
    expect(xml).toContain('😀'); // a well-formed astral character is kept
  });

  it('keeps line breaks of messages inside attributes as character references', async () => {
    const xml = toJunit(await hostileReport());
    const message = /<failure message="([^"]*)"/.exec(xml)?.[1];
    expect(message).toContain('&#10;end');
    expect(message).not.toMatch(/[\n\r\t]/);
  });
});

describe('the reports of a run that could not run', () => {
  it('say why in an escaped JUnit <error> and HTML, whatever the harness wrote on stderr', () => {
    const report = buildNotRunReport('verifier', HOSTILE, `harness exited (3); stderr: ${HOSTILE}`);
    const xml = toJunit(report);
    expect(XML_CHARS.test(xml)).toBe(true);
    expect(xml.match(/<error /g)?.length).toBe(1);
    expect(xml).not.toContain('<failure');
    expect(xml).not.toContain('<script>');
    expect(xml).toContain('errors="1"');
    const page = toHtml(report);
    expect(page).not.toContain('<script>');
    expect(page).toContain('<span class="badge ERROR">ERROR</span>');
    expect(page).toContain('harness exited (3); stderr: x]]&gt;');
  });
});

describe('writeReports', () => {
  it('replaces each report by a rename (a reader never sees a half-written file) and leaves no temporary file', async () => {
    const dir = testDir('conformance-reports-');
    const report = await hostileReport();
    await writeReports(report, dir);
    const before = statSync(join(dir, 'junit.xml')).ino;
    await writeReports(report, dir);
    expect(statSync(join(dir, 'junit.xml')).ino).not.toBe(before);
    expect(readdirSync(dir).sort()).toEqual(['junit.xml', 'report.html', 'report.json']);
    expect(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))).toMatchObject({ status: 'FAILED' });
  });
});
