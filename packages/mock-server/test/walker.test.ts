/**
 * The bad-input walker (issue 4 §5): every route of the OpenAPI document, fed hostile input, must
 * answer a 4xx `application/problem+json` with the precise `code`, `retryable: false` and a
 * `request_id`, never a 5xx, and must change no state.
 *
 * The walk is data-driven: the routes, their principals (`x-principals`), path and query
 * parameters and body schemas come from the OpenAPI document (the core builder, checked equal to
 * the served `/openapi.json`), so a new route is walked without touching this file. A signed
 * route is signed by a demo principal it allows, so that body, query and path validation are
 * really reached rather than stopped at 403; a signed route without one fails. Bodies start from
 * a schema-valid sample (checked against the contract) and each case breaks exactly one thing in
 * it, so the problem must name that one field in `errors`.
 *
 * State is compared after every refused request: a digest of every row of every table (ordered
 * by rowid) and of the schema, plus the virtual clock, the fault rules and the settings. The two
 * bookkeeping tables have exact rules instead: `nonces` may gain only the nonce of the case's own
 * genuine signature (a forged request must not burn one), and `idempotency` only the case's own
 * key, holding the 4xx the request was answered.
 *
 * Where one behaviour is shared by every route (JSON parsing, media types, impossible times),
 * each route gets a few of the variants in turn, so the whole list is covered over the walk while
 * the file stays fast.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import {
  buildOpenApiDocument,
  compileValidator,
  Problem,
  type RouteDef,
  routes,
  StatementDate,
  Timestamp,
} from '@campus-card/core/api';
import { importSigningKey, type Jwk, type SigningKey, signRequest } from '@campus-card/core/http';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { changedTables, demoPlatform, json, type Signer, tableDigests } from './helpers.js';

// ---- the document ------------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The subset of JSON Schema the contract uses. */
interface Schema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly items?: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly anyOf?: readonly Schema[];
  readonly const?: Json;
  readonly enum?: readonly Json[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
}

interface Parameter {
  readonly in: 'path' | 'query' | 'header';
  readonly name: string;
  readonly required?: boolean;
  readonly schema: Schema;
}

interface Operation {
  readonly operationId: string;
  readonly security?: readonly unknown[];
  readonly 'x-principals'?: readonly string[];
  readonly parameters?: readonly Parameter[];
  readonly requestBody?: { readonly content: { readonly 'application/json': { readonly schema: Schema } } };
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Route {
  readonly method: Method;
  readonly path: string;
  readonly op: Operation;
  /** The route-table entry of the same operation: its TypeBox schemas check the samples. */
  readonly def: RouteDef;
  /** Position in the walk: picks each route's share of the shared variants. */
  readonly index: number;
}

const BODY_LIMIT = 8192;
/** Methods whose bodies fastify parses (a GET body is ignored). */
const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'DELETE']);

const doc = buildOpenApiDocument() as unknown as { paths: Record<string, Record<string, Operation>> };
const walked: Route[] = Object.entries(doc.paths)
  .flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ path, m, op })))
  .map(({ path, m, op }, index) => {
    const def = (routes as readonly RouteDef[]).find((r) => r.operationId === op.operationId);
    if (def === undefined) throw new Error(`walker: ${op.operationId} has no route-table entry`);
    return { method: m.toUpperCase() as Method, path, op, def, index };
  });

/** `n` members of `list`, starting at `seed`, wrapping around. */
function share<T>(list: readonly T[], seed: number, n: number): T[] {
  return Array.from({ length: Math.min(n, list.length) }, (_, i) => list[(seed * n + i) % list.length] as T);
}

// ---- hostile values -----------------------------------------------------------------------------

const TIMESTAMP_PATTERN = (Timestamp as { pattern: string }).pattern;
const DATE_PATTERN = (StatementDate as { pattern: string }).pattern;

/** Times that a naive `\d{4}-\d{2}-\d{2}T…` pattern lets through but that name no instant. */
const IMPOSSIBLE_TIMESTAMPS = ['2026-13-45T00:00:00Z', '2026-02-30T10:00:00Z', '2026-01-01T25:61:00Z'];
/** More of them, shared out over the timestamp fields. */
const MORE_IMPOSSIBLE_TIMESTAMPS = [
  '2025-02-29T12:00:00Z',
  '2026-04-31T12:00:00Z',
  '2026-00-10T12:00:00Z',
  '2026-01-00T12:00:00Z',
  '2026-01-01T23:59:60Z',
  '2026-01-01T24:00:00Z',
];
const IMPOSSIBLE_DATES = ['2026-13-45', '2026-02-30', '2025-02-29', '2026-00-10', '2026-01-00'];

/** Injection-like texts; a case uses one only where it breaks the field's pattern or length. */
const HOSTILE_TEXTS = [
  "' OR 1=1; --",
  '../../etc/passwd',
  '<script>alert(1)</script>',
  'a\u0000b',
  '\u202eevil',
  '{{7*7}}',
];

const MALFORMED_JSON = [
  '{"a":',
  '{',
  '}',
  "{'a':1}",
  '{"a":1}x',
  '{"a":1,}',
  '[1,]',
  'nul',
  'NaN',
  '\ufeff{}',
  '{"a":"\\x41"}',
];
/** `text/plain` always (fastify has a parser of its own for it); the others shared out. */
const OTHER_MEDIA_TYPES = [
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
];

// ---- schema sampling, and an oracle of invalidity ------------------------------------------------

/** Candidates for patterned strings: the first that fits the pattern and the length bounds wins. */
const STRING_CANDIDATES = [
  'walker-1',
  '2026-01-05T08:00:00Z',
  '2026-01-05',
  'CC1:WALKER',
  '04a1b2c3d4e5f6a7',
  'https://walker.invalid/hook',
  'a'.repeat(64),
];

/** The single non-null option of a nullable union, or the schema itself. */
function core(schema: Schema): Schema {
  const options = schema.anyOf?.filter((o) => o.type !== 'null');
  return options?.length === 1 && options[0] !== undefined ? options[0] : schema;
}

function sampleString(s: Schema, where: string): string {
  const min = s.minLength ?? 0;
  const max = s.maxLength ?? Number.POSITIVE_INFINITY;
  if (s.pattern === undefined) return 'w'.repeat(Math.min(Math.max(1, min), max));
  const re = new RegExp(s.pattern, 'u');
  const hit = STRING_CANDIDATES.find((c) => re.test(c) && c.length >= min && c.length <= max);
  if (hit === undefined) throw new Error(`walker: no sample for pattern ${s.pattern} at ${where}; add one`);
  return hit;
}

/** A node of a sampled body. `unions`: pointers of the unions above it (errors may name those). */
interface Node {
  readonly ptr: string;
  readonly schema: Schema;
  readonly unions: readonly string[];
}

/** A value with every field present and valid; records each node below the root in `nodes`. */
function sample(s: Schema, ptr: string, nodes: Node[], unions: readonly string[] = []): Json {
  if (s.const !== undefined) return s.const;
  if (s.enum !== undefined && s.enum.length > 0) return s.enum[0] as Json;
  if (s.anyOf !== undefined) {
    const option = s.anyOf.find((o) => o.type !== 'null') ?? s.anyOf[0];
    if (option === undefined) throw new Error(`walker: empty anyOf at ${ptr}`);
    return sample(option, ptr, nodes, [...unions, ptr]);
  }
  switch (s.type) {
    case 'object': {
      const out: { [k: string]: Json } = {};
      for (const [name, child] of Object.entries(s.properties ?? {})) {
        const p = `${ptr}/${name}`;
        nodes.push({ ptr: p, schema: child, unions });
        out[name] = sample(child, p, nodes, unions);
      }
      return out;
    }
    case 'array': {
      if (s.items === undefined) return [];
      const p = `${ptr}/0`;
      nodes.push({ ptr: p, schema: s.items, unions });
      const item = sample(s.items, p, nodes, unions);
      return Array.from({ length: Math.max(1, s.minItems ?? 0) }, () => structuredClone(item));
    }
    case 'string':
      return sampleString(s, ptr);
    case 'integer':
    case 'number':
      return Math.min(Math.max(1, s.minimum ?? 1), s.maximum ?? Number.POSITIVE_INFINITY);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      throw new Error(`walker: cannot sample ${JSON.stringify(s).slice(0, 80)} at ${ptr}`);
  }
}

function jsonType(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Whether `v` certainly fails `s`: the walker's own oracle, independent of the server's
 * validator, so that a value the server wrongly accepts is still sent, and caught. It calls a
 * value invalid only for a reason it can name; unknown keywords count as satisfied.
 */
function violates(s: Schema, v: Json): boolean {
  if (s.anyOf !== undefined) return s.anyOf.every((o) => violates(o, v));
  if (s.const !== undefined) return JSON.stringify(s.const) !== JSON.stringify(v);
  if (s.enum !== undefined) return !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v));
  const t = jsonType(v);
  switch (s.type) {
    case undefined:
      return false;
    case 'integer':
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return true;
      if (s.type === 'integer' && !Number.isInteger(v)) return true;
      return (s.minimum !== undefined && v < s.minimum) || (s.maximum !== undefined && v > s.maximum);
    }
    case 'string': {
      if (typeof v !== 'string') return true;
      const length = [...v].length;
      return (
        (s.minLength !== undefined && length < s.minLength) ||
        (s.maxLength !== undefined && length > s.maxLength) ||
        (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v))
      );
    }
    case 'array':
      if (!Array.isArray(v)) return true;
      return (
        (s.minItems !== undefined && v.length < s.minItems) ||
        (s.maxItems !== undefined && v.length > s.maxItems)
      );
    default:
      return t !== s.type;
  }
}

/** A copy of `value` with the node at `ptr` replaced, or removed when `next` is undefined. */
function setAt(value: Json, ptr: string, next: Json | undefined): Json {
  const copy = structuredClone(value);
  const tokens = ptr.split('/').slice(1);
  const last = tokens.pop();
  if (last === undefined) throw new Error('walker: cannot replace the root');
  let at: Json = copy;
  for (const t of tokens) at = (at as { [k: string]: Json })[t] as Json;
  if (Array.isArray(at)) {
    if (next === undefined) at.splice(Number(last), 1);
    else at[Number(last)] = next;
  } else if (next === undefined) delete (at as { [k: string]: Json })[last];
  else (at as { [k: string]: Json })[last] = next;
  return copy;
}

function getAt(value: Json, ptr: string): Json | undefined {
  let at: Json | undefined = value;
  for (const t of ptr.split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = Array.isArray(at) ? at[Number(t)] : at[t];
  }
  return at;
}

const WRONG_TYPES: readonly { label: string; value: Json }[] = [
  { label: 'a number', value: 12345 },
  { label: 'a string', value: 'walker-text' },
  { label: 'a boolean', value: true },
  { label: 'an array', value: ['walker'] },
  { label: 'an object', value: { walker: 1 } },
];

/**
 * Values that break `s`: a wrong JSON type (shared out by `seed`) and null; numbers out of range
 * or fractional; texts one character too long or short, and two hostile texts (shared out).
 */
function badValues(s: Schema, seed: number, room: number): { label: string; value: Json }[] {
  const c = core(s);
  const wrong = WRONG_TYPES.filter((w) => violates(s, w.value));
  const out = [...share(wrong, seed, 1), { label: 'null', value: null }];
  if (c.type === 'integer') out.push({ label: 'a fraction', value: 1.5 });
  if (c.type === 'integer' || c.type === 'number') {
    if (c.minimum !== undefined) out.push({ label: 'below the minimum', value: c.minimum - 1 });
    if (c.maximum !== undefined) {
      out.push({ label: 'above the maximum', value: c.maximum + 1 });
      out.push({ label: 'a huge number', value: Number.MAX_VALUE });
    }
  }
  if (c.type === 'string' || c.anyOf !== undefined || c.enum !== undefined) {
    if (c.maxLength !== undefined && c.maxLength + 1 < room)
      out.push({ label: 'one character too long', value: 'w'.repeat(c.maxLength + 1) });
    if (c.minLength !== undefined && c.minLength > 0)
      out.push({ label: 'too short', value: 'w'.repeat(c.minLength - 1) });
    const hostile = HOSTILE_TEXTS.filter((t) => violates(s, t));
    for (const t of share(hostile, seed, 2)) out.push({ label: `hostile ${JSON.stringify(t)}`, value: t });
  }
  return out.filter((b) => violates(s, b.value));
}

// ---- principals and signing ---------------------------------------------------------------------

interface Principal extends Signer {
  readonly kind: string;
}

/** The demo principals by preference: the operator, merchants, devices bound to a merchant first. */
function demoPrincipals(p: MockPlatform): Principal[] {
  const d = p.demo;
  if (d === undefined) throw new Error('walker: the platform has no demo data');
  const bound = new Set(
    (
      p.state.db.prepare('SELECT device_id FROM devices WHERE merchant_id IS NOT NULL').all() as {
        device_id: string;
      }[]
    ).map((r) => r.device_id),
  );
  const devices = [...d.devices].sort((a, b) => Number(bound.has(b.id)) - Number(bound.has(a.id)));
  return [
    { kind: 'operator', id: d.operator.id, jwk: d.operator.privateJwk },
    ...d.merchants.map((m) => ({ kind: 'merchant', id: m.id, jwk: m.privateJwk })),
    ...devices.map((x) => ({ kind: 'device', id: x.id, jwk: x.privateJwk })),
  ];
}

/** Imported keys, with node:crypto doing the signing: a pure-JS ECDSA signature per case is slow. */
const keys = new WeakMap<Jwk, { key: SigningKey; node: KeyObject }>();
function keyOf(jwk: Jwk): { key: SigningKey; node: KeyObject } {
  let k = keys.get(jwk);
  if (k === undefined) {
    k = { key: importSigningKey(jwk), node: createPrivateKey({ key: jwk as never, format: 'jwk' }) };
    keys.set(jwk, k);
  }
  return k;
}

interface RequestSpec {
  readonly method: Method;
  readonly url: string;
  /** A JSON body, serialised; or the raw one. */
  readonly body?: Json;
  readonly rawBody?: string;
  readonly headers?: Record<string, string>;
  /** The signer, or none for an unsigned request. */
  readonly as: Signer | undefined;
  readonly created?: number;
  /** Sent on POSTs; `null` sends none. */
  readonly idempotencyKey?: string | null;
}

/** A request like `helpers.signed` makes it, and the `keyid\nnonce` of its signature. */
function build(p: MockPlatform, spec: RequestSpec): { req: InjectOptions; genuine?: string; idem?: string } {
  const { method, url, as } = spec;
  const payload = spec.rawBody ?? (spec.body === undefined ? undefined : JSON.stringify(spec.body));
  const bytes = payload === undefined ? undefined : new TextEncoder().encode(payload);
  const headers: Record<string, string> = {
    ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    ...spec.headers,
  };
  const idempotencyKey = spec.idempotencyKey === undefined ? randomUUID() : spec.idempotencyKey;
  if (method === 'POST' && idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
  const nonce = randomBytes(12).toString('base64url');
  if (as !== undefined) {
    const { key, node } = keyOf(as.jwk);
    const sig = signRequest(
      { method, url: `http://localhost${url}`, headers, body: bytes },
      {
        keyId: as.id,
        key,
        created: spec.created ?? p.clock.nowSeconds(),
        nonce,
        components:
          bytes !== undefined && bytes.length > 0
            ? ['@method', '@path', '@query', 'content-digest']
            : ['@method', '@path', '@query'],
        signer: (base, k) =>
          new Uint8Array(
            k.alg === 'ed25519'
              ? sign(null, base, node)
              : sign('sha256', base, { key: node, dsaEncoding: 'ieee-p1363' }),
          ),
      },
    );
    Object.assign(headers, sig);
  }
  return {
    req: { method, url, headers, ...(payload === undefined ? {} : { payload }) },
    ...(as === undefined ? {} : { genuine: `${as.id}\n${nonce}` }),
    ...(as !== undefined && method === 'POST' && idempotencyKey !== null
      ? { idem: `${as.id}\n${idempotencyKey}` }
      : {}),
  };
}

// ---- state ---------------------------------------------------------------------------------------

/** Tables with rules of their own (see the module comment); no other table may change. */
const BOOKKEEPING = new Set(['nonces', 'idempotency']);

interface Snapshot {
  /** Digest of each table, and of the schema under `(schema)`. */
  readonly tables: ReadonlyMap<string, string>;
  readonly memory: string;
  readonly nonceCount: number;
  readonly nonceMaxRowid: number;
  /** Idempotency rows by `principal\nkey`. */
  readonly idempotency: ReadonlyMap<string, { readonly status: number; readonly row: string }>;
}

function snapshot(p: MockPlatform): Snapshot {
  const { db } = p.state;
  const tables = tableDigests(p, BOOKKEEPING);
  const nonces = db.prepare('SELECT COUNT(*) AS n, COALESCE(MAX(rowid), 0) AS max FROM nonces').get() as {
    n: number;
    max: number;
  };
  const idempotency = new Map<string, { status: number; row: string }>();
  for (const row of db.prepare('SELECT * FROM idempotency').all() as Record<string, unknown>[])
    idempotency.set(`${row.principal_id}\n${row.idem_key}`, {
      status: Number(row.status),
      row: JSON.stringify(row),
    });
  const memory = JSON.stringify({
    now: p.clock.now(),
    faults: p.state.faults.rules(),
    settings: p.state.settings,
    admin: p.state.adminEnabled,
  });
  return { tables, memory, nonceCount: nonces.n, nonceMaxRowid: nonces.max, idempotency };
}

// ---- cases ---------------------------------------------------------------------------------------

interface Case {
  readonly name: string;
  readonly req: InjectOptions;
  readonly status: number;
  /** The problem's code; `null` for a request that must succeed (its state is not compared). */
  readonly code: string | null;
  /** `errors[].path` values of which the problem must carry at least one. */
  readonly errorPaths?: readonly string[];
  /** `keyid\nnonce` of a genuine signature: the only nonce row the case may add. */
  readonly genuine?: string;
  /** `principal\nkey` of the Idempotency-Key sent: the only idempotency row the case may add. */
  readonly idem?: string;
}

const checkProblem = compileValidator(Problem);

/** Runs one case: checks the answer, and that nothing changed but what the case may change. */
async function runCase(p: MockPlatform, route: Route, c: Case, before: Snapshot): Promise<Snapshot> {
  const label = `${route.method} ${route.path} — ${c.name}`;
  const res: LightMyRequestResponse = await p.app.inject(c.req);
  const excerpt = `${label}: ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (c.code === null) {
    expect.soft(res.statusCode, excerpt).toBe(c.status);
    return snapshot(p);
  }
  let body: Problem | undefined;
  try {
    body = json<Problem>(res);
  } catch {
    body = undefined;
  }
  const answered = `${res.statusCode} ${String(res.headers['content-type']).split(';')[0]} ${body?.code}`;
  const expected = `${c.status} application/problem+json ${c.code}`;
  expect.soft(answered, excerpt).toBe(expected);
  if (answered === expected && body !== undefined) {
    expect.soft(checkProblem(body).ok, `${excerpt} (not an RFC 9457 problem)`).toBe(true);
    expect.soft(body.status, excerpt).toBe(res.statusCode);
    expect.soft(body.retryable, excerpt).toBe(false);
    expect.soft(body.request_id, excerpt).toMatch(/\S/);
    expect.soft(body.request_id, excerpt).toBe(res.headers['x-request-id']);
    if (c.errorPaths !== undefined) {
      const paths = (body.errors ?? []).map((e) => e.path);
      expect
        .soft(
          c.errorPaths.some((x) => paths.includes(x)),
          `${excerpt}\n  errors name ${JSON.stringify(paths)}, not one of ${JSON.stringify(c.errorPaths)}`,
        )
        .toBe(true);
    }
  }

  const after = snapshot(p);
  expect.soft(changedTables(before.tables, after.tables), `${label}: tables changed`).toEqual([]);
  expect.soft(after.memory, `${label}: clock, faults or settings changed`).toBe(before.memory);
  const added = (
    p.state.db.prepare('SELECT key_id, nonce FROM nonces WHERE rowid > ?').all(before.nonceMaxRowid) as {
      key_id: string;
      nonce: string;
    }[]
  ).map((n) => `${n.key_id}\n${n.nonce}`);
  expect
    .soft(
      added.filter((n) => n !== c.genuine),
      `${label}: nonces stored`,
    )
    .toEqual([]);
  expect.soft(after.nonceCount - before.nonceCount, `${label}: nonces deleted`).toBe(added.length);
  for (const [k, v] of before.idempotency)
    expect.soft(after.idempotency.get(k)?.row, `${label}: idempotency row changed`).toBe(v.row);
  for (const [k, v] of after.idempotency) {
    if (before.idempotency.has(k)) continue;
    expect.soft(k, `${label}: idempotency row of another key`).toBe(c.idem);
    expect.soft(v.status, `${label}: stored outcome`).toBe(res.statusCode);
  }
  return after;
}

/** The cases of one route. */
function casesOf(p: MockPlatform, route: Route): Case[] {
  const { method, path, op, def, index } = route;
  const principals = demoPrincipals(p);
  let signer: Principal | undefined;
  if ((op.security?.length ?? 0) > 0) {
    const kinds = op['x-principals'] ?? [];
    if (kinds.length === 0) throw new Error(`walker: signed route ${op.operationId} lists no x-principals`);
    signer = kinds.map((k) => principals.find((x) => x.kind === k)).find((x) => x !== undefined);
    if (signer === undefined)
      throw new Error(`walker: no demo principal of kind ${kinds.join('/')} to sign ${op.operationId}`);
  }
  const demo = p.demo!;
  const params = (op.parameters ?? []).filter((x) => x.in === 'path');
  const queries = (op.parameters ?? []).filter((x) => x.in === 'query');
  const bodySchema = op.requestBody?.content['application/json'].schema;
  const tolerance = p.state.settings.signatureToleranceS;

  // Path values: demo entities (the signer itself for its own id), else a sample.
  const pathValues: Record<string, string> = {};
  for (const x of params) {
    const own = (kind: string) => (signer?.kind === kind ? signer.id : undefined);
    const known: Record<string, string | undefined> = {
      school_id: demo.schoolId,
      person_id: demo.cards[0]?.personId,
      card_id: demo.cards[0]?.cardId,
      device_id: own('device') ?? demo.devices[0]?.id,
      merchant_id: own('merchant') ?? demo.merchants[0]?.id,
    };
    pathValues[x.name] = known[x.name] ?? (sample(x.schema, `{${x.name}}`, []) as string);
  }
  if (def.params !== undefined)
    expect(compileValidator(def.params)(pathValues).ok, `${op.operationId}: walker's path values`).toBe(true);
  // The baseline query: every required parameter, sampled.
  const baseQuery: [string, string][] = queries
    .filter((q) => q.required === true)
    .map((q) => [q.name, String(sample(q.schema, `?${q.name}`, []))]);
  if (def.query !== undefined)
    expect(
      compileValidator(def.query, { coerce: true })(Object.fromEntries(baseQuery)).ok,
      `${op.operationId}: walker's query`,
    ).toBe(true);

  /** The URL with some path segments given verbatim, and a query (default: the baseline). */
  const urlOf = (segments: Record<string, string> = {}, query?: string): string => {
    const u = path.replace(
      /\{([a-z_]+)\}/g,
      (_, n: string) => segments[n] ?? encodeURIComponent(pathValues[n] ?? ''),
    );
    const q = query ?? new URLSearchParams(baseQuery).toString();
    return q === '' ? u : `${u}?${q}`;
  };
  const url = urlOf();

  const nodes: Node[] = [];
  const base = bodySchema === undefined ? undefined : sample(bodySchema, '', nodes);
  if (base !== undefined && def.body !== undefined)
    expect(compileValidator(def.body)(base), `${op.operationId}: the walker's sample body`).toEqual({
      ok: true,
      value: base,
    });
  const withBase = base === undefined ? {} : { body: base };

  type Spec = Omit<RequestSpec, 'method' | 'as'> & Partial<Pick<RequestSpec, 'method' | 'as'>>;
  const bad = (name: string, spec: Spec, status: number, code: string, errorPaths?: string[]): Case => ({
    name,
    ...build(p, { method, as: signer, ...spec }),
    status,
    code,
    ...(errorPaths === undefined ? {} : { errorPaths }),
  });
  /** A case whose signature is broken on purpose: it must not store its nonce. */
  const forged = (c: Case, edit?: (headers: Record<string, string>) => void): Case => {
    const { genuine: _genuine, ...rest } = c;
    edit?.(rest.req.headers as Record<string, string>);
    return rest;
  };
  const cases: Case[] = [];
  const invalid = (name: string, spec: Spec, errorPaths?: string[]) =>
    cases.push(bad(name, spec, 400, 'ERR_VALIDATION', errorPaths));

  // -- signatures: each refused before any work, burning no nonce --
  if (signer !== undefined) {
    const sig = (name: string, code: string, spec: Partial<Spec> = {}) =>
      bad(`signature: ${name}`, { url, ...withBase, ...spec }, 401, code);
    cases.push(
      forged(sig('missing', 'ERR_SIG_MISSING', { as: undefined })),
      forged(sig('Signature without Signature-Input', 'ERR_SIG_MISSING'), (h) => {
        delete h['signature-input'];
      }),
      forged(sig('unparseable Signature-Input', 'ERR_SIG_MALFORMED'), (h) => {
        h['signature-input'] = 'sig1=::not-a-list';
      }),
      forged(sig('wrong signature bytes', 'ERR_SIG_INVALID'), (h) => {
        h.signature = `sig1=:${Buffer.alloc(64, 7).toString('base64')}:`;
      }),
      forged(sig('unknown keyid', 'ERR_SIG_UNKNOWN_KEY', { as: { id: 'walker-nobody', jwk: signer.jwk } })),
      forged(
        sig(`created ${tolerance + 1} s ago`, 'ERR_SIG_EXPIRED', {
          created: p.clock.nowSeconds() - tolerance - 1,
        }),
      ),
      forged(
        sig(`created ${tolerance + 1} s ahead`, 'ERR_SIG_EXPIRED', {
          created: p.clock.nowSeconds() + tolerance + 1,
        }),
      ),
    );
    const other = principals.find((x) => x.id !== signer.id);
    if (other !== undefined)
      cases.push(
        forged(
          sig("another principal's key under this keyid", 'ERR_SIG_INVALID', {
            as: { id: signer.id, jwk: other.jwk },
          }),
        ),
      );
    // signed for another path, or another method, then sent here
    const elsewhere = forged(
      sig('signed for another path', 'ERR_SIG_INVALID', { url: '/v1/walker-elsewhere' }),
    );
    cases.push({ ...elsewhere, req: { ...elsewhere.req, url } });
    const crossed = forged(
      sig(
        'signed for another method',
        'ERR_SIG_INVALID',
        base === undefined
          ? { method: method === 'DELETE' ? 'GET' : 'DELETE' }
          : { method: 'PUT', headers: { 'idempotency-key': randomUUID() } },
      ),
    );
    cases.push({ ...crossed, req: { ...crossed.req, method } });
    if (base !== undefined) {
      // the same JSON value in other bytes: the digest is over the bytes actually sent
      const reserialised = forged(sig('body re-serialised after signing', 'ERR_DIGEST_MISMATCH'));
      cases.push({ ...reserialised, req: { ...reserialised.req, payload: JSON.stringify(base, null, 1) } });
      cases.push(
        forged(sig('Content-Digest header removed', 'ERR_SIG_INVALID'), (h) => {
          delete h['content-digest'];
        }),
      );
    }
    // A genuine signature by a kind of principal the route does not allow: 403, valid body or not.
    const allowed = op['x-principals'] ?? [];
    const outsider = principals.find((x) => !allowed.includes(x.kind));
    if (outsider !== undefined)
      cases.push(
        bad(
          `forbidden principal kind ${outsider.kind}`,
          { url, as: outsider, ...withBase },
          403,
          'ERR_FORBIDDEN',
        ),
      );
    // Idempotency-Key on a signed POST with a valid body: refused before the handler.
    if (method === 'POST' && base !== undefined)
      for (const [label, key] of [
        ['no', null],
        ['an empty', ''],
        ['a 256-character', 'k'.repeat(256)],
      ] as const)
        cases.push(
          bad(
            `${label} Idempotency-Key`,
            { url, body: base, idempotencyKey: key },
            400,
            'ERR_IDEMPOTENCY_KEY_MISSING',
          ),
        );
  }

  // -- bodies: parsing, media type, size (every method whose body fastify parses) --
  if (BODY_METHODS.has(method)) {
    for (const raw of share(MALFORMED_JSON, index, 3))
      cases.push(
        bad(`malformed JSON ${JSON.stringify(raw)}`, { url, rawBody: raw }, 400, 'ERR_MALFORMED_JSON'),
      );
    cases.push(
      bad(
        'huge body',
        { url, rawBody: JSON.stringify({ pad: 'y'.repeat(4 * BODY_LIMIT) }) },
        413,
        'ERR_BODY_TOO_LARGE',
      ),
      bad(
        'body one byte over the limit',
        { url, rawBody: `"${'y'.repeat(BODY_LIMIT - 1)}"` },
        413,
        'ERR_BODY_TOO_LARGE',
      ),
    );
    for (const type of ['text/plain', ...share(OTHER_MEDIA_TYPES, index, 1)])
      cases.push(
        bad(
          `content type ${type}`,
          { url, body: base ?? { a: 1 }, headers: { 'content-type': type } },
          415,
          'ERR_UNSUPPORTED_MEDIA_TYPE',
        ),
      );
  }

  // -- the body schema: one thing broken in an otherwise valid body --
  if (base !== undefined && bodySchema !== undefined) {
    const rootTypes: [string, Json][] = [
      ['null', null],
      ['an array', [1, 2, 3]],
      ['a string', 'walker'],
      ['a number', 42],
      ['true', true],
    ];
    for (const [label, value] of rootTypes) invalid(`body is ${label}`, { url, body: value }, ['body/']);
    invalid('no body at all', { url }, ['body/']);
    invalid('deeply nested arrays', { url, rawBody: `${'['.repeat(3000)}${']'.repeat(3000)}` }, ['body/']);
    const rest = JSON.stringify(base).slice(1);
    invalid('unknown field __proto__', { url, rawBody: `{"__proto__":{"walker":1},${rest}` }, [
      'body/__proto__',
    ]);
    invalid(
      'unknown field constructor',
      { url, rawBody: `{"constructor":{"prototype":{"walker":1}},${rest}` },
      ['body/constructor'],
    );
    /** Where the validator may report a fault at `ptr`: there, or at a union above it. */
    const reported = (ptr: string, unions: readonly string[]) => [
      `body${ptr}`,
      ...unions.map((u) => `body${u}`),
    ];
    const objects = [{ ptr: '', schema: bodySchema, unions: [] as readonly string[] }, ...nodes];
    for (const o of objects) {
      const s = core(o.schema);
      if (s.type !== 'object') continue;
      const at = o.schema.anyOf === undefined ? o.unions : [...o.unions, o.ptr];
      const here = getAt(base, o.ptr) as { [k: string]: Json };
      if (s.additionalProperties === false) {
        const more = { ...here, zzz_unknown: 1 };
        invalid(
          `unknown field ${o.ptr}/zzz_unknown`,
          { url, body: o.ptr === '' ? more : setAt(base, o.ptr, more) },
          reported(`${o.ptr}/zzz_unknown`, at),
        );
      }
      for (const name of s.required ?? [])
        invalid(
          `${o.ptr}/${name} missing`,
          { url, body: setAt(base, `${o.ptr}/${name}`, undefined) },
          reported(`${o.ptr}/${name}`, at),
        );
    }
    const room = BODY_LIMIT - JSON.stringify(base).length - 64;
    nodes.forEach((n, i) => {
      const at = n.schema.anyOf === undefined ? n.unions : [...n.unions, n.ptr];
      for (const b of badValues(n.schema, index + i, room))
        invalid(`${n.ptr} is ${b.label}`, { url, body: setAt(base, n.ptr, b.value) }, reported(n.ptr, at));
      const c = core(n.schema);
      if (c.type === 'array' && (c.minItems ?? 0) > 0)
        invalid(`${n.ptr} is empty`, { url, body: setAt(base, n.ptr, []) }, reported(n.ptr, at));
      if (c.type === 'array' && c.maxItems !== undefined) {
        const over = Array.from({ length: c.maxItems + 1 }, () => getAt(base, `${n.ptr}/0`) as Json);
        if (JSON.stringify(over).length < room)
          invalid(
            `${n.ptr} has ${c.maxItems + 1} items`,
            { url, body: setAt(base, n.ptr, over) },
            reported(n.ptr, at),
          );
      }
      // No real instant: refused by the schema or by the handler, which names the field bare.
      if (c.pattern === TIMESTAMP_PATTERN)
        for (const t of [...IMPOSSIBLE_TIMESTAMPS, ...share(MORE_IMPOSSIBLE_TIMESTAMPS, index + i, 1)])
          invalid(`${n.ptr} is the impossible time ${t}`, { url, body: setAt(base, n.ptr, t) }, [
            ...reported(n.ptr, at),
            n.ptr,
          ]);
    });
  }

  // -- path parameters: hostile, over-long, impossible dates, router-level refusals --
  for (const x of params) {
    const s = x.schema;
    const at = (segment: string): Spec => ({ url: urlOf({ [x.name]: segment }), ...withBase });
    const texts = HOSTILE_TEXTS.map((t) => ({ label: `hostile ${JSON.stringify(t)}`, text: t }));
    if (s.maxLength !== undefined)
      texts.push({ label: `${s.maxLength + 1} characters`, text: 'w'.repeat(s.maxLength + 1) });
    for (const t of texts)
      if (violates(s, t.text))
        invalid(`path ${x.name} is ${t.label}`, at(encodeURIComponent(t.text)), [`params/${x.name}`]);
    // days the calendar does not have fit the pattern: refused all the same
    if (s.pattern === DATE_PATTERN)
      for (const d of IMPOSSIBLE_DATES) invalid(`path ${x.name} is the impossible date ${d}`, at(d));
    // beyond the router's parameter length, and an undecodable segment: still problem+json
    invalid(`path ${x.name} is 5000 characters`, at('w'.repeat(5000)));
    invalid(`path ${x.name} has a bad percent-encoding`, at('a%zzb'));
  }

  // -- query strings --
  if (queries.length === 0) {
    // a route that declares no query parameters takes none
    const url = urlOf({}, 'zzz_unknown=1');
    invalid('a query parameter on a route without any', { url, ...withBase }, ['querystring/zzz_unknown']);
  } else {
    /** The baseline query without `without`, plus `extra`. */
    const q = (extra: string, without?: string): Spec => {
      const head = new URLSearchParams(baseQuery.filter(([k]) => k !== without)).toString();
      return { url: urlOf({}, [head, extra].filter((s) => s !== '').join('&')), ...withBase };
    };
    if ((def.query as { additionalProperties?: boolean } | undefined)?.additionalProperties === false) {
      invalid('unknown query parameter', q('zzz_unknown=1'), ['querystring/zzz_unknown']);
      invalid('unknown query parameter __proto__', q('__proto__=1'), ['querystring/__proto__']);
    }
    for (const x of queries) {
      const s = core(x.schema);
      const e = encodeURIComponent;
      const texts: { label: string; text: string }[] = [];
      if (s.type === 'integer' || s.type === 'number') {
        const notNumbers = ['abc', '', ' 5', '1_000', '0x10', 'true', 'Infinity', '1e400'];
        const notIntegers = ['1.5', '1e30', '1e3', '99999999999999999999'];
        for (const t of [...notNumbers, ...(s.type === 'integer' ? notIntegers : [])])
          texts.push({ label: JSON.stringify(t), text: t });
        if (s.minimum !== undefined) texts.push({ label: 'below the minimum', text: String(s.minimum - 1) });
        if (s.maximum !== undefined) texts.push({ label: 'above the maximum', text: String(s.maximum + 1) });
      } else if (s.type === 'string') {
        if (s.maxLength !== undefined)
          texts.push({ label: `${s.maxLength + 1} characters`, text: 'w'.repeat(s.maxLength + 1) });
        if ((s.minLength ?? 0) > 0) texts.push({ label: 'empty', text: '' });
        for (const t of HOSTILE_TEXTS)
          if (violates(s, t)) texts.push({ label: `hostile ${JSON.stringify(t)}`, text: t });
      }
      if (s.pattern === TIMESTAMP_PATTERN)
        for (const t of ['2026-01-05T08:00:00+08:00', '2026-01-05', 'yesterday'])
          texts.push({ label: JSON.stringify(t), text: t });
      for (const t of texts)
        invalid(`query ${x.name} is ${t.label}`, q(`${x.name}=${e(t.text)}`, x.name), [
          `querystring/${x.name}`,
        ]);
      const ok = e(String(sample(x.schema, `?${x.name}`, [])));
      invalid(`query ${x.name} given twice`, q(`${x.name}=${ok}&${x.name}=${ok}`, x.name), [
        `querystring/${x.name}`,
      ]);
      if (x.required === true) invalid(`query ${x.name} missing`, q('', x.name), [`querystring/${x.name}`]);
      // No real instant: refused by the schema (querystring/…) or by the handler (/…).
      if (s.pattern === TIMESTAMP_PATTERN)
        for (const t of [...IMPOSSIBLE_TIMESTAMPS, ...share(MORE_IMPOSSIBLE_TIMESTAMPS, index, 2)])
          invalid(`query ${x.name} is the impossible time ${t}`, q(`${x.name}=${e(t)}`, x.name), [
            `querystring/${x.name}`,
            `/${x.name}`,
          ]);
    }
  }

  // -- replayed nonce: a genuinely signed request, then the very same bytes again --
  if (signer !== undefined) {
    // The first of the pair: a request refused by validation (after the signature check), moved
    // to the end; on a route with nothing to validate, a valid read.
    const i = cases.findIndex(
      (c) => c.genuine?.startsWith(`${signer.id}\n`) === true && c.code === 'ERR_VALIDATION',
    );
    const moved = i >= 0 ? cases.splice(i, 1)[0] : undefined;
    const first: Case =
      moved !== undefined
        ? { ...moved, name: `replay: first, ${moved.name}` }
        : {
            name: 'replay: first, a valid request',
            ...build(p, { method, url, as: signer }),
            status: 200,
            code: null,
          };
    cases.push(first, {
      name: 'replay: the same request again',
      req: first.req,
      status: 401,
      code: 'ERR_SIG_NONCE_REPLAYED',
    });
    if (method === 'POST') {
      const headers = { ...(first.req.headers as Record<string, string>), 'idempotency-key': randomUUID() };
      cases.push({
        name: 'replay: the same signature with a fresh Idempotency-Key',
        req: { ...first.req, headers },
        status: 401,
        code: 'ERR_SIG_NONCE_REPLAYED',
      });
    }
  }

  // A route with nothing to break (unsigned, no parameters, no body) is still visited.
  if (cases.length === 0)
    cases.push({ name: 'visit', ...build(p, { method, url, as: undefined }), status: 200, code: null });
  return cases;
}

// ---- the walk ----------------------------------------------------------------------------------

let p: MockPlatform;
let total = 0;
const finished = new Set<string>();

beforeAll(async () => {
  // the push dispatcher off the clock: nothing may move between two snapshots but the request
  p = await demoPlatform({ bodyLimit: BODY_LIMIT, pushIntervalMs: 3_600_000 });
});
afterAll(async () => p?.close());

describe('walker over /openapi.json', () => {
  it('walks the document the server publishes', async () => {
    const served = json<{ paths: unknown }>(await p.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(served.paths).toEqual(doc.paths);
    expect(walked.length).toBe(routes.length);
  });

  for (const route of walked) {
    it(`${route.method} ${route.path} (${route.op.operationId}) refuses hostile input, changing nothing`, async () => {
      const cases = casesOf(p, route);
      let snap = snapshot(p);
      for (const c of cases) snap = await runCase(p, route, c, snap);
      total += cases.length;
      finished.add(route.op.operationId);
    });
  }

  it('walked every route', () => {
    expect([...finished].sort()).toEqual(walked.map((r) => r.op.operationId).sort());
    expect(total).toBeGreaterThan(20 * walked.length);
  });
});
