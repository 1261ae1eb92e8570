import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, type JsonValue, renderApiReference } from '../../src/api.js';

type Obj = { [k: string]: JsonValue };
interface Op {
  operationId: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: Obj }> };
  security?: Obj[];
  'x-principals'?: string[];
}

// The same call as `npm run docs:http` (.scripts/docs-http.mjs).
const doc = buildOpenApiDocument();
const markdown = renderApiReference(doc);
const lines = markdown.split('\n');

/** The lines of the section under `heading`, up to the next heading of the same or a higher level. */
function section(heading: string): string {
  const start = lines.indexOf(heading);
  expect(start, `heading ${heading}`).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)![0].length;
  let end = start + 1;
  while (end < lines.length) {
    const h = /^(#+) /.exec(lines[end]!);
    if (h !== null && h[1]!.length <= level) break;
    end++;
  }
  return lines.slice(start, end).join('\n');
}

/** Paths of the required fields of a schema, as the reference names them (`a.b`, `a[].b`). */
function requiredFields(schema: Obj, prefix = ''): string[] {
  const out: string[] = [];
  const props = (schema.properties ?? {}) as Record<string, Obj>;
  const required = new Set((schema.required ?? []) as string[]);
  for (const [name, s] of Object.entries(props)) {
    if (required.has(name)) out.push(`${prefix}${name}`);
    out.push(...nested(s, `${prefix}${name}`));
  }
  return out;
}
function nested(s: Obj, path: string): string[] {
  if (s.type === 'object' || s.properties !== undefined) return requiredFields(s, `${path}.`);
  if (s.type === 'array' && s.items !== undefined) return nested(s.items as Obj, `${path}[]`);
  const objects = ((s.anyOf ?? []) as Obj[]).filter((v) => v.type === 'object');
  return objects.flatMap((v) => requiredFields(v, `${path}.`));
}

function rowSaysRequired(text: string, name: string): boolean {
  return text.split('\n').some((l) => l.startsWith(`| \`${name}\` |`) && / \| yes \| /.test(l));
}

function operations(container: JsonValue | undefined): { path: string; method: string; op: Op }[] {
  return Object.entries((container ?? {}) as unknown as Record<string, Record<string, Op>>).flatMap(
    ([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
}

describe('renderApiReference', () => {
  it('renders every route with its method, path, callers, signature, idempotency and required fields', () => {
    const routes = operations(doc.paths);
    expect(routes.length).toBeGreaterThan(40);
    for (const { path, method, op } of routes) {
      const text = section(`#### \`${method.toUpperCase()} ${path}\``);
      expect(text).toContain(`Operation: \`${op.operationId}\``);
      const principals = op['x-principals'] ?? [];
      const callers = text.split('\n').find((l) => l.startsWith('- Callers'));
      for (const p of principals) expect(callers, `${op.operationId} callers`).toContain(`\`${p}\``);
      const signedRoute = (op.security ?? []).length > 0;
      expect(text).toContain(signedRoute ? '- Signature: RFC 9421' : '- Signature: none');
      const idem = op.parameters?.find((x) => x.name === 'Idempotency-Key');
      expect(text).toContain(
        idem?.required === true ? '`Idempotency-Key`: required' : '`Idempotency-Key`: not used',
      );
      for (const param of op.parameters ?? []) {
        if (param.required === true)
          expect(rowSaysRequired(text, param.name), `${op.operationId} ${param.name}`).toBe(true);
      }
      const body = op.requestBody?.content['application/json']?.schema;
      for (const field of body === undefined ? [] : requiredFields(body)) {
        expect(rowSaysRequired(text, field), `${op.operationId} body field ${field}`).toBe(true);
      }
    }
  });

  it('renders every push event with its required headers and payload fields, and the signing scheme', () => {
    const hooks = operations(doc.webhooks);
    expect(hooks.length).toBeGreaterThan(0);
    for (const { path: name, op } of hooks) {
      const text = section(`### \`${name}\``);
      for (const h of (op.parameters ?? []).filter((x) => x.in === 'header' && x.required === true)) {
        expect(rowSaysRequired(text, h.name), `${name} header ${h.name}`).toBe(true);
      }
      const schema = op.requestBody!.content['application/json']!.schema;
      const fields = requiredFields(schema);
      expect(fields).toContain('data');
      for (const field of fields) expect(rowSaysRequired(text, field), `${name} payload ${field}`).toBe(true);
    }
    const signing = section('### Signing and delivery');
    for (const h of ['push-id', 'content-digest', 'signature-input', 'signature'])
      expect(signing).toContain(`\`${h}\``);
    expect(signing).toContain('GET /v1/platform/keys');
    expect(signing).toContain(
      (doc['x-push-signing'] as Obj).retry_schedule_s!.toString().replace(/,/g, ', '),
    );
    expect(markdown).not.toMatch(/webhook-(id|timestamp|signature)/);
  });

  it('lists every problem code, and every table row has as many cells as its header', () => {
    const problems = section('## Problems');
    for (const c of doc['x-problem-codes'] as { code: string }[])
      expect(problems).toContain(`| \`${c.code}\` |`);
    const cells = (l: string) => l.split(/(?<!\\)\|/).length;
    let width = 0;
    lines.forEach((l, i) => {
      if (!l.startsWith('|')) {
        width = 0;
        return;
      }
      if (width === 0) width = cells(l);
      expect(cells(l), `line ${i + 1}: ${l}`).toBe(width);
    });
  });

  it('is deterministic and ends with one newline', () => {
    expect(renderApiReference(buildOpenApiDocument())).toBe(markdown);
    expect(markdown.endsWith('\n') && !markdown.endsWith('\n\n')).toBe(true);
  });

  it('matches the committed docs/http-api.md', () => {
    const file = new URL('../../../../docs/http-api.md', import.meta.url);
    const committed = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (committed !== markdown) {
      const a = committed.split('\n');
      const at = lines.findIndex((l, i) => l !== a[i]);
      expect.fail(
        `docs/http-api.md differs from a fresh render (first at line ${at + 1}): run \`npm run docs:http\``,
      );
    }
  });
});
