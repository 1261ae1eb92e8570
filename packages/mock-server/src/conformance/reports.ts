/**
 * Report writers: JSON, JUnit XML (for CI dashboards) and a self-contained HTML page (inline CSS,
 * no external assets, no script).
 *
 * @module
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir } from '../lib/ensure-dir.js';
import type { ConditionResult, Report } from './model.js';

/** The report as pretty JSON. */
export function toJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Characters XML 1.0 forbids (outside its `Char` production, §2.2): C0 controls but tab, line
 * feed and carriage return, lone surrogates, U+FFFE and U+FFFF. A harness can put any of them in
 * a reason or a name; one of them makes the whole file unreadable to a CI dashboard.
 */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;

/** Escapes text content. */
function xml(s: string): string {
  return s
    .replace(NOT_XML_CHAR, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Escapes an attribute value: tabs and line breaks as references, which a parser would turn into spaces. */
function attr(s: string): string {
  return xml(s).replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function conditionText(c: ConditionResult): string {
  return `${c.title}\nspec: ${c.spec.join(', ') || '-'}${c.message === undefined ? '' : `\n${c.message}`}`;
}

/**
 * JUnit XML: one `<testsuite>` per module (named `plan/module`), one `<testcase>` per condition.
 * FAILED is `<failure>` (expected failures are not: they carry a `<system-out>` note), SKIPPED is
 * `<skipped>`, WARNING passes with a `<system-out>` note. A run that could not run (status
 * `ERROR`) is one `<testsuite>` named after the plan with one test case, `suite-ran`, in
 * `<error>` (JUnit's "could not run", which CI dashboards tell from a `<failure>`), saying why.
 */
export function toJunit(report: Report): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  if (report.error !== undefined) {
    const e = report.error;
    const why = `the suite could not run: ${e.message}`;
    out.push(
      '<testsuites name="campus-card-conformance" tests="1" failures="0" errors="1" skipped="0">',
      `  <testsuite name="${attr(e.plan)}" tests="1" failures="0" errors="1" skipped="0" time="0.000">`,
      `    <testcase classname="${attr(e.plan)}" name="suite-ran" time="0.000">`,
      `      <error message="${attr(why)}">${xml(`${why}\ntarget: ${e.target}`)}</error>`,
      '    </testcase>',
      '  </testsuite>',
      '</testsuites>',
    );
    return `${out.join('\n')}\n`;
  }
  const c = report.counts;
  out.push(
    `<testsuites name="campus-card-conformance" tests="${c.PASSED + c.FAILED + c.WARNING + c.SKIPPED + c.expectedFailures}" failures="${c.FAILED}" skipped="${c.SKIPPED}">`,
  );
  for (const plan of report.plans) {
    for (const mod of plan.modules) {
      const failures = mod.conditions.filter(
        (x) => x.status === 'FAILED' && x.expectedFailure === undefined,
      ).length;
      const skippedN = mod.conditions.filter((x) => x.status === 'SKIPPED').length;
      out.push(
        `  <testsuite name="${attr(`${plan.plan}/${mod.id}`)}" tests="${mod.conditions.length}" failures="${failures}" skipped="${skippedN}" time="${(mod.durationMs / 1000).toFixed(3)}" timestamp="${attr(plan.startedAt)}">`,
      );
      for (const cond of mod.conditions) {
        const open = `    <testcase classname="${attr(`${plan.plan}.${mod.id}`)}" name="${attr(cond.id)}" time="${(cond.durationMs / 1000).toFixed(3)}"`;
        const text = xml(conditionText(cond));
        if (cond.status === 'FAILED' && cond.expectedFailure === undefined) {
          out.push(
            `${open}>`,
            `      <failure message="${attr(cond.message ?? 'failed')}">${text}</failure>`,
            '    </testcase>',
          );
        } else if (cond.status === 'FAILED') {
          out.push(
            `${open}>`,
            `      <system-out>EXPECTED FAILURE (${xml(cond.expectedFailure?.reason ?? '')}): ${text}</system-out>`,
            '    </testcase>',
          );
        } else if (cond.status === 'SKIPPED') {
          out.push(
            `${open}>`,
            `      <skipped message="${attr(cond.message ?? 'skipped')}"/>`,
            '    </testcase>',
          );
        } else if (cond.status === 'WARNING') {
          out.push(`${open}>`, `      <system-out>WARNING: ${text}</system-out>`, '    </testcase>');
        } else {
          out.push(`${open}/>`);
        }
      }
      out.push('  </testsuite>');
    }
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function html(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1b1f24;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem}
.muted{color:#59636e}.badge{display:inline-block;border-radius:4px;padding:0 .45rem;font-weight:600;font-size:12px}
.PASSED{background:#dafbe1;color:#116329}.FAILED{background:#ffebe9;color:#a40e26}.WARNING{background:#fff8c5;color:#7d4e00}
.SKIPPED{background:#eaeef2;color:#424a53}.EXPECTED{background:#ddf4ff;color:#0a3069}.ERROR{background:#a40e26;color:#fff}
details{border:1px solid #d1d9e0;border-radius:6px;margin:.5rem 0;padding:.25rem .75rem}
summary{cursor:pointer;padding:.25rem 0}table{border-collapse:collapse;width:100%;margin:.5rem 0}
td,th{border-top:1px solid #d1d9e0;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{font-size:12px;color:#59636e;font-weight:600}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.msg{white-space:pre-wrap;font:12px ui-monospace,SFMono-Regular,Menlo,monospace;color:#424a53}
`;

function badge(c: ConditionResult): string {
  return c.status === 'FAILED' && c.expectedFailure !== undefined
    ? '<span class="badge EXPECTED">EXPECTED FAILURE</span>'
    : `<span class="badge ${c.status}">${c.status}</span>`;
}

/** A self-contained HTML page: summary, then each plan and module with its conditions. */
export function toHtml(report: Report): string {
  const c = report.counts;
  const parts: string[] = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">',
    `<title>campus-card conformance: ${report.status}</title><style>${CSS}</style></head><body>`,
    `<h1>campus-card conformance <span class="badge ${report.status}">${report.status}</span></h1>`,
    `<p class="muted">suite ${html(report.version)} · ${c.PASSED} passed · ${c.FAILED} failed · ${c.WARNING} warnings · ${c.SKIPPED} skipped · ${c.expectedFailures} expected failures</p>`,
  ];
  if (report.error !== undefined) {
    const e = report.error;
    parts.push(
      `<h2>The suite could not run: no verdict on the product</h2>`,
      `<p class="muted">plan <code>${html(e.plan)}</code> · target <code>${html(e.target)}</code></p>`,
      `<div class="msg">${html(e.message)}</div>`,
    );
  }
  for (const plan of report.plans) {
    parts.push(
      `<h2>Plan <code>${html(plan.plan)}</code>: ${html(plan.title)} <span class="badge ${plan.status}">${plan.status}</span></h2>`,
      `<p class="muted">target <code>${html(plan.target)}</code> · started ${html(plan.startedAt)} · ${(plan.durationMs / 1000).toFixed(1)} s${
        plan.product === undefined ? '' : ` · product <code>${html(JSON.stringify(plan.product))}</code>`
      }</p>`,
    );
    for (const mod of plan.modules) {
      const open = mod.status === 'FAILED' || mod.status === 'WARNING' ? ' open' : '';
      parts.push(
        `<details${open}><summary><span class="badge ${mod.status}">${mod.status}</span> <code>${html(mod.id)}</code> ${html(mod.title)} <span class="muted">(${mod.conditions.length} conditions, ${mod.durationMs} ms)</span></summary>`,
        '<table><tr><th>result</th><th>condition</th><th>requirement</th><th>spec</th></tr>',
      );
      for (const cond of mod.conditions) {
        const note = [
          cond.message,
          cond.expectedFailure && `expected failure: ${cond.expectedFailure.reason}`,
        ]
          .filter((x): x is string => typeof x === 'string')
          .join('\n');
        parts.push(
          `<tr><td>${badge(cond)}</td><td><code>${html(cond.id)}</code></td><td>${html(cond.title)}${
            note === '' ? '' : `<div class="msg">${html(note)}</div>`
          }</td><td>${cond.spec.map((s) => html(s)).join('<br>')}</td></tr>`,
        );
      }
      parts.push('</table></details>');
    }
  }
  if (report.unusedExpectedFailures.length > 0) {
    parts.push('<h2>Expected failures that matched nothing</h2><ul>');
    for (const e of report.unusedExpectedFailures) {
      parts.push(`<li><code>${html(`${e.plan}/${e.module}/${e.condition}`)}</code>: ${html(e.reason)}</li>`);
    }
    parts.push('</ul>');
  }
  parts.push('</body></html>');
  return `${parts.join('\n')}\n`;
}

/** The files {@link writeReports} writes. */
export const REPORT_FILES = ['report.json', 'junit.xml', 'report.html'] as const;

/**
 * Makes `dir` (and its parents) and removes the reports of an earlier run from it, so that a run
 * that ends without reports (stopped by a signal, or the reports of a run that could not run could
 * not be written either) leaves none a CI job could mistake for its own, and checks that a file can be written and renamed there. Call it before the run: a folder
 * that cannot be written is then known before anything starts.
 */
export async function prepareReportsDir(dir: string): Promise<void> {
  // not mkdir's `recursive`, which loops for ever under /proc on Node 20
  ensureDir(dir);
  for (const name of REPORT_FILES) await rm(join(dir, name), { force: true });
  // a folder that exists but takes no file (read-only, another user's, a read-only mount) passes
  // the two steps above: a file is written and renamed there as the reports will be
  const probe = join(dir, `.write-test.${process.pid}.tmp`);
  try {
    await writeFile(probe, '');
    await rename(probe, `${probe}.renamed`);
  } finally {
    await rm(probe, { force: true });
    await rm(`${probe}.renamed`, { force: true });
  }
}

/**
 * Writes `report.json`, `junit.xml` and `report.html` into `dir`; returns their paths. Each is
 * written to a temporary file and renamed into place: a reader (a CI dashboard, a cancelled job)
 * sees the old file or the new one, never half of one.
 */
export async function writeReports(report: Report, dir: string): Promise<string[]> {
  // not mkdir's `recursive`, which loops for ever under /proc on Node 20
  ensureDir(dir);
  const texts: Readonly<Record<(typeof REPORT_FILES)[number], string>> = {
    'report.json': toJson(report),
    'junit.xml': toJunit(report),
    'report.html': toHtml(report),
  };
  for (const name of REPORT_FILES) {
    const path = join(dir, name);
    const temporary = join(dir, `.${name}.${process.pid}.tmp`);
    try {
      await writeFile(temporary, texts[name]);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
  return REPORT_FILES.map((name) => join(dir, name));
}
