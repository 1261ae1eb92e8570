/**
 * Renders the OpenAPI document of the platform (see {@link buildOpenApiDocument}) as one Markdown
 * reference: the routes grouped by tag, the push events (webhooks), then the problem codes.
 *
 * @module
 */
import type { JsonValue } from './openapi.js';

type Obj = { readonly [k: string]: JsonValue };

const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace'] as const;
/** Nested objects are flattened into dotted rows down to this depth. */
const MAX_DEPTH = 8;

function isObj(v: JsonValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function obj(v: JsonValue | undefined): Obj {
  return isObj(v) ? v : {};
}
function list(v: JsonValue | undefined): readonly JsonValue[] {
  return Array.isArray(v) ? v : [];
}
function text(v: JsonValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function texts(v: JsonValue | undefined): string[] {
  return list(v).filter((x): x is string => typeof x === 'string');
}

/** Inline code, safe in a table cell (pipes escaped, GFM style; backticks fenced). */
function code(s: string): string {
  const body = s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');
  return body.includes('`') ? `\`\` ${body} \`\`` : `\`${body}\``;
}
/** Plain text, safe in a table cell. */
function cell(s: string): string {
  return s
    .replace(/\r?\n+/g, ' ')
    .replace(/\|/g, '\\|')
    .trim();
}
/** Constraints, already table-safe (their code spans escape pipes). */
function constraintCell(s: Obj): string {
  return constraintsOf(s).join(', ');
}
function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => (c === '' ? ' ' : c)).join(' | ')} |`),
  ];
}

/** GitHub-style heading anchors, numbered on repeats in document order. */
class Anchors {
  private readonly seen = new Map<string, number>();
  add(heading: string): string {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = this.seen.get(base) ?? 0;
    this.seen.set(base, n + 1);
    return n === 0 ? base : `${base}-${n}`;
  }
}

// ---- schemas --------------------------------------------------------------------------------

function variants(s: Obj): Obj[] {
  return [...list(s.anyOf), ...list(s.oneOf)].filter(isObj);
}
function isNull(s: Obj): boolean {
  return s.type === 'null';
}
/** The non-null variant of `X | null`, if the schema is one. */
function nullableOf(s: Obj): Obj | undefined {
  const vs = variants(s);
  const other = vs.filter((v) => !isNull(v));
  return vs.length === 2 && other.length === 1 ? other[0] : undefined;
}
function isObjectSchema(s: Obj): boolean {
  return s.type === 'object' || isObj(s.properties);
}

/** A short type: `integer (fen)`, `string[]`, `"a" \| "b"`, `object \| null`. */
function typeOf(s: Obj): string {
  if ('const' in s) return JSON.stringify(s.const);
  const e = list(s.enum);
  if (e.length > 0) return e.map((v) => JSON.stringify(v)).join(' | ');
  const vs = variants(s);
  if (vs.length > 0) return vs.map((v) => typeOf(v)).join(' | ');
  if (Array.isArray(s.type)) return texts(s.type).join(' | ');
  const t = text(s.type);
  if (t === 'array') {
    const item = typeOf(obj(s.items));
    return /[| ]/.test(item) ? `(${item})[]` : `${item}[]`;
  }
  if (t === 'integer' && /\bfen\b/i.test(text(s.description) ?? '')) return 'integer (fen)';
  if (t === 'string' && text(s.contentMediaType) !== undefined) return `string (${text(s.contentMediaType)})`;
  if (t === 'string' && text(s.format) !== undefined) return `string (${text(s.format)})`;
  if (t !== undefined) return t;
  return isObj(s.properties) ? 'object' : 'any';
}

/** Constraints of one schema (and of the non-null side of `X | null`, and of array items). */
function constraintsOf(s: Obj): string[] {
  const out: string[] = [];
  const inner = nullableOf(s);
  if (inner !== undefined) return constraintsOf(inner);
  const n = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const min = n('minimum');
  const max = n('maximum');
  if (min !== undefined && max !== undefined) out.push(`${min} to ${max}`);
  else if (min !== undefined) out.push(`≥ ${min}`);
  else if (max !== undefined) out.push(`≤ ${max}`);
  if (n('exclusiveMinimum') !== undefined) out.push(`> ${n('exclusiveMinimum')}`);
  if (n('exclusiveMaximum') !== undefined) out.push(`< ${n('exclusiveMaximum')}`);
  if (n('multipleOf') !== undefined) out.push(`multiple of ${n('multipleOf')}`);
  const minL = n('minLength');
  const maxL = n('maxLength');
  if (minL !== undefined && maxL !== undefined) out.push(`length ${minL} to ${maxL}`);
  else if (maxL !== undefined) out.push(`max length ${maxL}`);
  else if (minL !== undefined) out.push(`min length ${minL}`);
  const minI = n('minItems');
  const maxI = n('maxItems');
  if (minI !== undefined && maxI !== undefined) out.push(`${minI} to ${maxI} items`);
  else if (maxI !== undefined) out.push(`at most ${maxI} items`);
  else if (minI !== undefined) out.push(`at least ${minI} items`);
  if (s.uniqueItems === true) out.push('unique items');
  const format = text(s.format);
  if (format !== undefined) out.push(`format ${code(format)}`);
  const pattern = text(s.pattern);
  if (pattern !== undefined) out.push(`pattern ${code(pattern)}`);
  if ('default' in s) out.push(`default ${code(JSON.stringify(s.default))}`);
  if (s.type === 'array' && isObj(s.items) && !isObjectSchema(s.items)) {
    const each = constraintsOf(s.items);
    if (each.length > 0) out.push(`each: ${each.join(', ')}`);
  }
  const example = list(s.examples)[0];
  if (example !== undefined) out.push(`e.g. ${code(JSON.stringify(example))}`);
  return out;
}

function descriptionOf(s: Obj): string {
  const own = text(s.description);
  if (own !== undefined) return own;
  const inner = nullableOf(s);
  if (inner !== undefined) return text(inner.description) ?? '';
  if (s.type === 'array' && isObj(s.items)) return text(s.items.description) ?? '';
  return '';
}

interface FieldRow {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly constraints: string;
  readonly description: string;
}

/** The object schemas to descend into for a field: itself, `X | null`, `X[]`, union members. */
function nestedObjects(s: Obj): { suffix: string; schema: Obj; note: string }[] {
  if (isObjectSchema(s)) return [{ suffix: '', schema: s, note: '' }];
  if (s.type === 'array' && isObj(s.items)) {
    return nestedObjects(s.items).map((n) => ({ ...n, suffix: `[]${n.suffix}` }));
  }
  const objects = variants(s).filter((v) => isObjectSchema(v));
  if (objects.length === 1) return [{ suffix: '', schema: objects[0] as Obj, note: '' }];
  return objects.map((schema, i) => ({ suffix: '', schema, note: `variant ${i + 1}: ` }));
}

function fieldRows(schema: Obj, prefix = '', depth = 0, note = ''): FieldRow[] {
  if (depth > MAX_DEPTH) return [];
  const props = obj(schema.properties);
  const required = new Set(texts(schema.required));
  const rows: FieldRow[] = [];
  for (const [name, raw] of Object.entries(props)) {
    const s = obj(raw);
    const path = `${prefix}${name}`;
    rows.push({
      name: path,
      type: typeOf(s),
      required: required.has(name),
      constraints: constraintCell(s),
      description: `${note}${descriptionOf(s)}`,
    });
    for (const n of nestedObjects(s)) {
      rows.push(...fieldRows(n.schema, `${path}${n.suffix}.`, depth + 1, n.note));
    }
  }
  const extra = schema.additionalProperties;
  if (isObj(extra)) {
    rows.push({
      name: `${prefix}*`,
      type: typeOf(extra),
      required: false,
      constraints: constraintCell(extra),
      description: `${note}any other key${descriptionOf(extra) === '' ? '' : `: ${descriptionOf(extra)}`}`,
    });
  }
  return rows;
}

/** Markdown for a body schema: a field table, one per union member, or a one-line type. */
function renderSchema(schema: Obj): string[] {
  const objects = isObjectSchema(schema) ? [schema] : variants(schema).filter((v) => isObjectSchema(v));
  if (objects.length === 0 || (!isObjectSchema(schema) && objects.length !== variants(schema).length)) {
    const line = [`Type: ${code(typeOf(schema))}`, ...constraintsOf(schema)].join(', ');
    const d = descriptionOf(schema);
    return [`${line}.${d === '' ? '' : ` ${d}`}`];
  }
  const out: string[] = [];
  objects.forEach((o, i) => {
    if (objects.length > 1) out.push(`One of ${objects.length} shapes; shape ${i + 1}:`, '');
    const rows = fieldRows(o);
    if (rows.length === 0) {
      out.push(o.additionalProperties === false ? 'An empty object `{}`.' : 'A free-form JSON object.');
    } else {
      out.push(
        ...table(
          ['Field', 'Type', 'Required', 'Constraints', 'Description'],
          rows.map((r) => [
            code(r.name),
            code(r.type),
            r.required ? 'yes' : 'no',
            r.constraints,
            cell(r.description),
          ]),
        ),
      );
    }
    if (i < objects.length - 1) out.push('');
  });
  return out;
}

// ---- operations -----------------------------------------------------------------------------

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly op: Obj;
  readonly anchor: string;
}

function parametersOf(op: Obj): Obj[] {
  return list(op.parameters).filter(isObj);
}

function problemCodes(response: Obj): string[] {
  const declared = texts(response['x-problem-codes']);
  if (declared.length > 0) return declared;
  const found: string[] = [];
  for (const media of Object.values(obj(response.content))) {
    const schema = obj(obj(media).schema);
    for (const s of [schema, ...variants(schema)]) {
      const c = obj(obj(s.properties).code);
      if (typeof c.const === 'string') found.push(c.const);
      found.push(...texts(c.enum));
      for (const v of variants(c)) if (typeof v.const === 'string') found.push(v.const);
    }
  }
  return [...new Set(found)];
}

function renderParameters(params: readonly Obj[]): string[] {
  if (params.length === 0) return [];
  return [
    '**Parameters**',
    '',
    ...table(
      ['Name', 'In', 'Type', 'Required', 'Constraints', 'Description'],
      params.map((p) => {
        const s = obj(p.schema);
        const d = text(p.description) ?? descriptionOf(s);
        return [
          code(text(p.name) ?? ''),
          text(p.in) ?? '',
          code(typeOf(s)),
          p.required === true ? 'yes' : 'no',
          constraintCell(s),
          cell(d),
        ];
      }),
    ),
    '',
  ];
}

function renderRequestBody(op: Obj): string[] {
  const body = obj(op.requestBody);
  const content = obj(body.content);
  const out: string[] = [];
  for (const [media, m] of Object.entries(content)) {
    const required = body.required === true ? 'required' : 'optional';
    out.push(`**Request body** (${code(media)}, ${required})`, '', ...renderSchema(obj(obj(m).schema)), '');
  }
  return out;
}

function renderResponses(op: Obj, problemsAnchor: string): string[] {
  const responses = obj(op.responses);
  const entries = Object.entries(responses);
  if (entries.length === 0) return [];
  // The problem-code column only when some response of the route declares its codes.
  const declared = entries.some(([, r]) => problemCodes(obj(r)).length > 0);
  const errors = entries.some(([status]) => /^[45]/.test(status));
  const out: string[] = [
    errors && !declared
      ? `**Responses** (errors are problem+json; their codes by status: [Problems](#${problemsAnchor}))`
      : '**Responses**',
    '',
    ...table(
      ['Status', 'Meaning', 'Content', ...(declared ? ['Problem codes'] : [])],
      entries.map(([status, raw]) => {
        const r = obj(raw);
        const row = [
          code(status),
          cell(text(r.description) ?? ''),
          Object.keys(obj(r.content))
            .map((m) => code(m))
            .join(', '),
        ];
        if (declared)
          row.push(
            problemCodes(r)
              .map((c) => code(c))
              .join(', '),
          );
        return row;
      }),
    ),
    '',
  ];
  // Bodies of the successful JSON responses; identical schemas share one table.
  const bodies = new Map<string, { statuses: string[]; schema: Obj }>();
  for (const [status, raw] of entries) {
    if (!/^2/.test(status)) continue;
    const schema = obj(obj(obj(obj(raw).content)['application/json']).schema);
    if (Object.keys(schema).length === 0) continue;
    const key = JSON.stringify(schema);
    const hit = bodies.get(key);
    if (hit !== undefined) hit.statuses.push(status);
    else bodies.set(key, { statuses: [status], schema });
  }
  for (const { statuses, schema } of bodies.values()) {
    out.push(`**Response ${statuses.join(', ')}** (\`application/json\`)`, '', ...renderSchema(schema), '');
  }
  return out;
}

function callersOf(op: Obj): string {
  const principals = texts(op['x-principals']);
  if (principals.length > 0) return principals.map((p) => code(p)).join(', ');
  if (op['x-auth'] === 'admin')
    return 'test control only: answered when the platform enables `/admin` routes';
  return 'anyone';
}

function signatureOf(op: Obj, schemes: Obj): string {
  const names = list(op.security).flatMap((req) => Object.keys(obj(req)));
  if (names.length === 0) return 'none';
  return names
    .map((n) => {
      const scheme = obj(schemes[n]);
      const label = text(scheme.name) === 'Signature' ? 'RFC 9421 HTTP Message Signature' : 'required';
      return `${label} (${code(n)})`;
    })
    .join(', ');
}

function renderOperation(o: Operation, schemes: Obj, problemsAnchor: string): string[] {
  const { op } = o;
  const params = parametersOf(op);
  const idem = params.find((p) => text(p.name)?.toLowerCase() === 'idempotency-key' && p.in === 'header');
  const facts = [
    `- Operation: ${code(text(op.operationId) ?? '')}`,
    `- Callers (\`x-principals\`): ${callersOf(op)}`,
    `- Signature: ${signatureOf(op, schemes)}`,
    `- \`Idempotency-Key\`: ${idem === undefined ? 'not used' : idem.required === true ? 'required' : 'optional'}`,
  ];
  const caps = texts(op['x-capabilities']);
  if (caps.length > 0) facts.push(`- Capabilities: ${caps.join(', ')}`);
  const out = [`#### ${code(`${o.method.toUpperCase()} ${o.path}`)}`, ''];
  const summary = text(op.summary);
  if (summary !== undefined) out.push(summary, '');
  const description = text(op.description);
  if (description !== undefined) out.push(description, '');
  out.push(...facts, '');
  out.push(...renderParameters(params), ...renderRequestBody(op), ...renderResponses(op, problemsAnchor));
  return out;
}

// ---- webhooks and problems ------------------------------------------------------------------

function renderSigning(doc: Obj, sharedDescription: string | undefined): string[] {
  const signing = obj(doc['x-push-signing']);
  const scheme = obj(obj(obj(doc.components).securitySchemes).pushSignature);
  const out: string[] = [];
  if (sharedDescription !== undefined) out.push(sharedDescription, '');
  else if (text(scheme.description) !== undefined) out.push(text(scheme.description) as string, '');
  const rows: string[][] = [];
  const add = (k: string, v: string) => rows.push([k, v]);
  if (text(signing.scheme) !== undefined) add('Scheme', cell(text(signing.scheme) as string));
  if (text(signing.alg) !== undefined) add('Algorithm (`alg`)', code(text(signing.alg) as string));
  if (text(signing.label) !== undefined) add('Signature label', code(text(signing.label) as string));
  const covered = texts(signing.covered_components);
  if (covered.length > 0) add('Covered components', code(`(${covered.map((c) => `"${c}"`).join(' ')})`));
  const params = texts(signing.parameters);
  if (params.length > 0) add('Signature parameters', params.map((p) => code(p)).join(', '));
  if (text(signing.content_digest) !== undefined) {
    add('Body digest', `RFC 9530 \`content-digest\`, ${code(text(signing.content_digest) as string)}`);
  }
  const headers = texts(signing.headers);
  if (headers.length > 0) add('Headers sent', headers.map((h) => code(h)).join(', '));
  const keys = obj(signing.keys);
  if (text(keys.path) !== undefined) {
    add(
      'Verification key',
      `the JWK in ${code(text(keys.field) ?? 'keys')} of ${code(`${text(keys.method) ?? 'GET'} ${text(keys.path)}`)} whose \`kid\` equals \`keyid\``,
    );
  }
  if (typeof signing.tolerance_s === 'number')
    add('Clock tolerance on `created`', `±${signing.tolerance_s} s`);
  const retry = list(signing.retry_schedule_s ?? doc['x-push-retry-schedule-s']);
  if (retry.length > 0) {
    add('Retry schedule', `${retry.join(', ')} s after the push was queued, while not answered 2xx`);
  }
  if (rows.length > 0) out.push(...table(['', ''], rows), '');
  return out;
}

function renderWebhook(name: string, method: string, op: Obj, shared: boolean): string[] {
  const out = [`### ${code(name)}`, ''];
  const summary = text(op.summary);
  if (summary !== undefined) out.push(summary, '');
  const description = text(op.description);
  if (!shared && description !== undefined) out.push(description, '');
  out.push(
    `- Operation: ${code(text(op.operationId) ?? '')}`,
    `- Request: ${code(method.toUpperCase())} to the subscribed URL`,
    '',
  );
  const headers = parametersOf(op).filter((p) => p.in === 'header');
  if (headers.length > 0) {
    out.push(
      '**Headers**',
      '',
      ...table(
        ['Header', 'Required', 'Description', 'Example'],
        headers.map((h) => [
          code(text(h.name) ?? ''),
          h.required === true ? 'yes' : 'no',
          cell(text(h.description) ?? ''),
          h.example === undefined ? '' : code(String(h.example)),
        ]),
      ),
      '',
    );
  }
  const body = obj(obj(obj(obj(op.requestBody).content)['application/json']).schema);
  if (Object.keys(body).length > 0)
    out.push('**Payload** (`application/json`)', '', ...renderSchema(body), '');
  const responses = Object.entries(obj(op.responses));
  if (responses.length > 0) {
    out.push(
      '**Expected answer**',
      '',
      ...table(
        ['Status', 'Meaning'],
        responses.map(([s, r]) => [code(s), cell(text(obj(r).description) ?? '')]),
      ),
      '',
    );
  }
  return out;
}

function renderProblems(doc: Obj): string[] {
  const out: string[] = [];
  const problem = obj(obj(obj(doc.components).schemas).Problem);
  if (Object.keys(problem).length > 0) {
    out.push(
      'Every error is answered as `application/problem+json` (RFC 9457):',
      '',
      ...renderSchema(problem),
      '',
    );
  }
  const codes = list(doc['x-problem-codes']).filter(isObj);
  if (codes.length > 0) {
    out.push(
      ...table(
        ['Code', 'HTTP status', 'Retryable', 'Meaning'],
        codes.map((c) => {
          const status = list(c.status).map(String);
          return [
            code(text(c.code) ?? ''),
            status.length === 0 ? '—' : status.join(', '),
            c.retryable === true ? 'yes' : 'no',
            cell(text(c.description) ?? ''),
          ];
        }),
      ),
      '',
    );
  }
  return out;
}

// ---- the document ---------------------------------------------------------------------------

function operationsOf(container: JsonValue | undefined): { path: string; method: string; op: Obj }[] {
  const out: { path: string; method: string; op: Obj }[] = [];
  for (const [path, item] of Object.entries(obj(container))) {
    for (const method of METHODS) {
      const op = obj(item)[method];
      if (isObj(op)) out.push({ path, method, op });
    }
  }
  return out;
}

/**
 * Renders an OpenAPI 3.1 document of the platform, as {@link buildOpenApiDocument} builds it, as
 * one Markdown reference: conventions; the routes grouped by tag, each with its method and path,
 * summary, callers (`x-principals`), signature and `Idempotency-Key` needs, parameters, request
 * body fields (type, required, constraints), responses with their problem codes where declared
 * and response fields; the push events (webhooks) with their signing, headers and payload
 * fields; then the problem body and the stable problem codes.
 *
 * The output is deterministic (the same document always gives the same text, in the document's
 * own order) and GitHub-flavoured Markdown (tables; `|` escaped in cells). Extensions it reads
 * when present: `x-principals`, `x-auth`, `x-capabilities`, `x-push-signing`, `x-problem-codes`
 * (document and response level).
 *
 * @param doc - the OpenAPI document (plain JSON).
 * @returns the Markdown text, ending with one newline.
 *
 * @example
 * ```ts
 * import { buildOpenApiDocument, renderApiReference } from '@campus-card/core/api';
 * const markdown = renderApiReference(buildOpenApiDocument());
 * ```
 */
export function renderApiReference(doc: { readonly [k: string]: JsonValue }): string {
  const info = obj(doc.info);
  const schemes = obj(obj(doc.components).securitySchemes);
  const anchors = new Anchors();
  const title = 'HTTP API reference';
  anchors.add(title);

  // Headings are registered in the order they are printed, so repeated anchors number as GitHub's.
  const sections = {
    contents: anchors.add('Contents'),
    conventions: anchors.add('Conventions'),
    routes: anchors.add('Routes'),
  };
  const byTag = new Map<string, Operation[]>();
  const pending = operationsOf(doc.paths);
  const tagAnchor = new Map<string, string>();
  // Tag order: the document's `tags`, then any other tag in order of first use.
  const tagInfo = new Map<string, string>();
  for (const t of list(doc.tags).filter(isObj)) {
    const n = text(t.name);
    if (n !== undefined) tagInfo.set(n, text(t.description) ?? '');
  }
  const used = new Set(pending.map(({ op }) => texts(op.tags)[0] ?? 'other'));
  for (const tag of [...tagInfo.keys(), ...used]) {
    if (used.has(tag) && !byTag.has(tag)) byTag.set(tag, []);
  }
  const routeOps: Operation[] = [];
  for (const tag of byTag.keys()) {
    tagAnchor.set(tag, anchors.add(tag));
    for (const { path, method, op } of pending) {
      if ((texts(op.tags)[0] ?? 'other') !== tag) continue;
      const o = { method, path, op, anchor: anchors.add(`${method.toUpperCase()} ${path}`) };
      byTag.get(tag)?.push(o);
      routeOps.push(o);
    }
  }
  const hooks = operationsOf(doc.webhooks);
  const pushAnchor = anchors.add('Push events (webhooks)');
  const signingAnchor = anchors.add('Signing and delivery');
  const hookAnchors = hooks.map((h) => anchors.add(h.path));
  const problemsAnchor = anchors.add('Problems');
  const hookDescriptions = new Set(hooks.map((h) => text(h.op.description) ?? ''));
  const shared = hooks.length > 1 && hookDescriptions.size === 1 ? [...hookDescriptions][0] : undefined;
  const codes = list(doc['x-problem-codes']);

  const out: string[] = [
    `# ${title}`,
    '',
    '<!-- Generated by `npm run docs:http` from the OpenAPI document of @campus-card/core/api. Do not edit. -->',
    '',
  ];
  const name = text(info.title) ?? 'API';
  const version = text(info.version);
  out.push(
    `**${name}**${version === undefined ? '' : ` ${version}`}, rendered from its OpenAPI ${text(doc.openapi) ?? ''} document (served by the platform at \`/openapi.json\`): ${routeOps.length} routes in ${byTag.size} groups, ${hooks.length} push events, ${codes.length} problem codes.`,
    '',
    `## Contents`,
    '',
    `- [Conventions](#${sections.conventions})`,
    `- [Routes](#${sections.routes})`,
    ...[...byTag.entries()].map(
      ([tag, ops]) =>
        `  - [${tag}](#${tagAnchor.get(tag)}) (${ops.length} route${ops.length === 1 ? '' : 's'})`,
    ),
    `- [Push events (webhooks)](#${pushAnchor})`,
    `  - [Signing and delivery](#${signingAnchor})`,
    ...hooks.map((h, i) => `  - [${h.path}](#${hookAnchors[i]})`),
    `- [Problems](#${problemsAnchor})`,
    '',
    '## Conventions',
    '',
  );
  const description = text(info.description);
  if (description !== undefined) out.push(description, '');
  const servers = list(doc.servers)
    .map((s) => text(obj(s).url))
    .filter((u): u is string => u !== undefined);
  if (servers.length > 0) out.push(`Servers: ${servers.map((u) => code(u)).join(', ')}.`, '');
  // The schemes routes use (the push scheme is described with the push events).
  const routeSchemes = new Set(
    routeOps.flatMap((o) => list(o.op.security).flatMap((req) => Object.keys(obj(req)))),
  );
  for (const [key, s] of Object.entries(schemes)) {
    const d = text(obj(s).description);
    if (d !== undefined && routeSchemes.has(key)) out.push(`- Signed requests (${code(key)}): ${d}`);
  }
  const idem = routeOps
    .flatMap((o) => parametersOf(o.op))
    .find((p) => text(p.name)?.toLowerCase() === 'idempotency-key');
  if (idem !== undefined && text(idem.description) !== undefined) {
    out.push(`- \`Idempotency-Key\` (where a route requires it): ${text(idem.description)}`);
  }
  out.push(`- Errors: RFC 9457 problem+json; see [Problems](#${problemsAnchor}).`);
  // Response headers and responses declared once (`components`), referred to by the routes.
  for (const [name, h] of Object.entries(obj(obj(doc.components).headers))) {
    const d = text(obj(h).description);
    if (d !== undefined) out.push(`- Response header ${code(name)}: ${d}`);
  }
  for (const r of Object.values(obj(obj(doc.components).responses))) {
    const d = text(obj(r).description);
    if (d !== undefined) out.push(`- ${d}`);
  }
  out.push('');

  out.push('## Routes', '');
  for (const [tag, ops] of byTag) {
    out.push(`### ${tag}`, '');
    const about = tagInfo.get(tag);
    if (about !== undefined && about !== '') out.push(about, '');
    out.push(
      ...table(
        ['Route', 'Summary', 'Callers'],
        ops.map((o) => [
          `[${code(`${o.method.toUpperCase()} ${o.path}`)}](#${o.anchor})`,
          cell(text(o.op.summary) ?? ''),
          cell(callersOf(o.op)),
        ]),
      ),
      '',
    );
    for (const o of ops) out.push(...renderOperation(o, schemes, problemsAnchor));
  }

  out.push('## Push events (webhooks)', '');
  out.push('### Signing and delivery', '', ...renderSigning(doc, shared));
  hooks.forEach((h) => {
    out.push(...renderWebhook(h.path, h.method, h.op, shared !== undefined));
  });

  out.push('## Problems', '', ...renderProblems(doc));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return `${out.join('\n')}\n`;
}
