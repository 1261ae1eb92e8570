/**
 * The verifier plan's vector modules: every case of `packages/core/vectors` (token-format §10),
 * fed to the product through the harness.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeRoster, fromHex, importPublicJwk, verifyTrustList } from '@campus-card/core';
import { reasonForCoreCode } from '@campus-card/verifier';
import { failed, passed, type Verdict, warning } from '../model.js';
import type { ModuleDef } from '../runner.js';
import { describe, type HarnessClient } from './harness-client.js';

/** One vector file (token-format §10). */
export interface Vector {
  readonly name: string;
  readonly description: string;
  readonly mode: 'full' | 'compact';
  readonly now: number;
  readonly keys: { readonly root: Readonly<Record<string, unknown>> };
  readonly trustList: string;
  readonly statusList?: string;
  readonly roster?: string;
  readonly heldTrustListVersion?: number;
  readonly qr: string;
  readonly expected: { readonly valid: boolean; readonly code: string | null };
}

/**
 * Where the vectors of `@campus-card/core` are, or `undefined`: resolved from this module, then
 * from the working directory. The published core package ships them (`vectors/`, exported as
 * `./vectors/*.json`), so an installed suite finds them without `--vectors`.
 */
export function defaultVectorsDir(): string | undefined {
  for (const from of [import.meta.url, join(process.cwd(), 'index.js')]) {
    try {
      const pkg = createRequire(from).resolve('@campus-card/core/package.json');
      const dir = join(dirname(pkg), 'vectors');
      if (existsSync(dir)) return dir;
    } catch {
      // not resolvable from there
    }
  }
  return undefined;
}

/** Why `v` is not a {@link Vector}, or `undefined` when it is one. */
function notAVector(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  for (const field of ['name', 'description', 'trustList', 'qr'] as const) {
    if (typeof o[field] !== 'string') return `"${field}" must be a string`;
  }
  if (o.name === '') return '"name" must not be empty';
  if (o.mode !== 'full' && o.mode !== 'compact') return '"mode" must be "full" or "compact"';
  if (typeof o.now !== 'number' || !Number.isSafeInteger(o.now)) return '"now" must be an integer';
  const keys = o.keys as Record<string, unknown> | null | undefined;
  if (typeof keys?.root !== 'object' || keys.root === null) return '"keys.root" must be a JWK';
  for (const field of ['statusList', 'roster'] as const) {
    if (o[field] !== undefined && typeof o[field] !== 'string') return `"${field}" must be a string`;
  }
  if (o.heldTrustListVersion !== undefined && !Number.isSafeInteger(o.heldTrustListVersion)) {
    return '"heldTrustListVersion" must be an integer';
  }
  const expected = o.expected as Record<string, unknown> | null | undefined;
  if (typeof expected?.valid !== 'boolean') return '"expected.valid" must be a boolean';
  if (expected.valid && expected.code !== null) return '"expected.code" must be null when valid';
  if (!expected.valid && (typeof expected.code !== 'string' || !expected.code.startsWith('ERR_'))) {
    return '"expected.code" must be a core error code when invalid';
  }
  return undefined;
}

/**
 * Reads every `*.json` vector of `dir`, sorted by file name.
 *
 * @throws `Error` when `dir` holds no vector (a plan over none would pass having checked none), or
 * when a file is not a vector (not JSON, a missing or mistyped field, a name used twice), naming it.
 */
export function readVectors(dir: string): Vector[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no vector (*.json) in ${dir}`);
  const names = new Set<string>();
  return files.map((f) => {
    const path = join(dir, f);
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`${path} is not JSON: ${(error as Error).message}`);
    }
    const why = notAVector(v);
    if (why !== undefined) throw new Error(`${path} is not a vector (token-format §10): ${why}`);
    const vector = v as Vector;
    if (names.has(vector.name)) throw new Error(`${path}: vector name "${vector.name}" used twice`);
    names.add(vector.name);
    return vector;
  });
}

/** The spec section a core error code is defined by (token-format §9). */
const SECTION: Readonly<Record<string, string>> = {
  ERR_INPUT_TYPE: '§9',
  ERR_INPUT_TOO_LARGE: '§2.1',
  ERR_QR_PREFIX: '§8',
  ERR_QR_BASE45: '§8',
  ERR_CBOR_MALFORMED: '§2.1',
  ERR_CBOR_TOO_DEEP: '§2.1',
  ERR_CBOR_NOT_DETERMINISTIC: '§2.1',
  ERR_CBOR_UNSUPPORTED_TYPE: '§2.1',
  ERR_STRUCTURE: '§2.2',
  ERR_ALG_NOT_ALLOWED: '§2.2',
  ERR_KEY_INVALID: '§2.4',
  ERR_UNKNOWN_ISSUER: '§3',
  ERR_SIGNATURE_INVALID: '§2.2',
  ERR_ISSUER_ROLE_NOT_ALLOWED: '§3',
  ERR_ISSUER_SCHOOL_NOT_ALLOWED: '§3',
  ERR_ISSUER_KEY_EXPIRED: '§3',
  ERR_CREDENTIAL_EXPIRED: '§4',
  ERR_CREDENTIAL_NOT_YET_VALID: '§4',
  ERR_PRESENTATION_TOO_OLD: '§5.3',
  ERR_PRESENTATION_FROM_FUTURE: '§5.3',
  ERR_REVOKED: '§6.1',
  ERR_STATUS_INDEX_OUT_OF_RANGE: '§6.1',
  ERR_STATUS_LIST_MISSING: '§6.1',
  ERR_UNKNOWN_CARD: '§5.2',
  ERR_ROLLBACK: '§7.1',
};

type Group =
  | 'valid'
  | 'decoding'
  | 'signatures'
  | 'issuer-limits'
  | 'time'
  | 'status'
  | 'compact'
  | 'trust-material';

const GROUP_TITLE: Readonly<Record<Group, string>> = {
  valid: 'Vectors: valid codes are accepted',
  decoding: 'Vectors: malformed input is denied BAD_FORMAT (QR text, Base45, CBOR, structure)',
  signatures: 'Vectors: bad signatures, algorithms and unknown issuers are denied',
  'issuer-limits': "Vectors: the trust list's limits on issuer keys are enforced",
  time: 'Vectors: the credential validity and the time window of the code are enforced',
  status: 'Vectors: revoked, lost and out-of-range cards are denied',
  compact: 'Vectors: compact mode needs a roster entry',
  'trust-material': 'Vectors: bad and rolled-back trust lists, and bad rosters, are refused',
};

/**
 * The trust material a vector's failure lies in, which a reader must refuse to load: its trust
 * list, or its roster (judged by its structure and keys; no vector has a roster signed wrong).
 */
function failingMaterial(v: Vector): 'trustList' | 'roster' | undefined {
  if (v.expected.code === 'ERR_ROLLBACK') return 'trustList';
  try {
    const bytes = fromHex(v.trustList);
    if (bytes === undefined) return 'trustList';
    verifyTrustList(bytes, [importPublicJwk(v.keys.root)]);
  } catch {
    return 'trustList';
  }
  if (v.roster === undefined) return undefined;
  try {
    const bytes = fromHex(v.roster);
    if (bytes === undefined) return 'roster';
    decodeRoster(bytes);
    return undefined;
  } catch {
    return 'roster';
  }
}

function groupOf(v: Vector): Group {
  const code = v.expected.code;
  if (code === null) return 'valid';
  if (failingMaterial(v) !== undefined) return 'trust-material';
  if (/^ERR_(QR_|CBOR_|STRUCTURE|INPUT_)/.test(code)) return 'decoding';
  if (/^ERR_(ALG_NOT_ALLOWED|SIGNATURE_INVALID|UNKNOWN_ISSUER|KEY_INVALID)$/.test(code)) return 'signatures';
  if (code.startsWith('ERR_ISSUER_')) return 'issuer-limits';
  if (/^ERR_(CREDENTIAL|PRESENTATION)_/.test(code)) return 'time';
  if (code === 'ERR_UNKNOWN_CARD') return 'compact';
  return 'status';
}

/** The reason code a conforming harness reports for a vector's expected core code. */
export function expectedReason(code: string): string {
  return reasonForCoreCode(code);
}

function specOf(v: Vector): string[] {
  const section = v.expected.code === null ? '§5.3' : (SECTION[v.expected.code] ?? '§9');
  return [`token-format ${section}`, 'token-format §10'];
}

async function prepare(h: HarnessClient, v: Vector): Promise<Verdict | undefined> {
  await h.reset(
    [v.keys.root],
    v.heldTrustListVersion === undefined ? {} : { heldTrustListVersion: v.heldTrustListVersion },
  );
  const tl = await h.load('trustList', v.trustList, v.now);
  if (!tl.ok) return failed(`the vector's valid trust list was refused (${tl.reason})`);
  if (v.statusList !== undefined) {
    const sl = await h.load('statusList', v.statusList, v.now);
    if (!sl.ok) return failed(`the vector's valid status list was refused (${sl.reason})`);
  }
  if (v.roster !== undefined) {
    const r = await h.load('roster', v.roster, v.now);
    if (!r.ok) return failed(`the vector's valid roster was refused (${r.reason})`);
  }
  return undefined;
}

async function runVector(h: HarnessClient, v: Vector): Promise<Verdict> {
  if (groupOf(v) === 'trust-material') {
    const doc = failingMaterial(v) === 'roster' ? 'roster' : 'trustList';
    const label = doc === 'roster' ? 'roster' : 'trust list';
    await h.reset(
      [v.keys.root],
      v.heldTrustListVersion === undefined ? {} : { heldTrustListVersion: v.heldTrustListVersion },
    );
    if (doc === 'roster') {
      // the trust list and status list are good: load them first
      const tl = await h.load('trustList', v.trustList, v.now);
      if (!tl.ok) return failed(`the vector's valid trust list was refused (${tl.reason})`);
      if (v.statusList !== undefined) {
        const sl = await h.load('statusList', v.statusList, v.now);
        if (!sl.ok) return failed(`the vector's valid status list was refused (${sl.reason})`);
      }
    }
    const want = v.expected.code === 'ERR_ROLLBACK' ? 'ROLLBACK' : expectedReason(v.expected.code ?? '');
    const r = await h.load(doc, doc === 'roster' ? (v.roster as string) : v.trustList, v.now);
    const scan = await h.verify(v.qr, v.now);
    if (r.ok) return failed(`the ${label} was loaded; it must be refused (${want})`);
    if (scan.accepted) return failed(`the ${label} was refused, but the code was then accepted`);
    if (r.reason !== want) return warning(`${label} refused with ${r.reason}, expected ${want}`);
    return passed();
  }
  const setup = await prepare(h, v);
  if (setup !== undefined) return setup;
  const d = await h.verify(v.qr, v.now);
  if (v.expected.valid) return d.accepted ? passed() : failed(`a valid code was ${describe(d)}`);
  const want = expectedReason(v.expected.code ?? '');
  if (d.accepted) return failed(`accepted; must be denied ${want} (${v.expected.code})`);
  if (d.reason !== want) return warning(`denied ${d.reason}, expected ${want} (${v.expected.code})`);
  return passed();
}

/** The vector modules, one per group of vectors, one condition per vector. */
export function vectorModules(vectors: readonly Vector[]): ModuleDef<HarnessClient>[] {
  const groups = new Map<Group, Vector[]>();
  for (const v of vectors) {
    const g = groupOf(v);
    groups.set(g, [...(groups.get(g) ?? []), v]);
  }
  const order = Object.keys(GROUP_TITLE) as Group[];
  return order
    .filter((g) => groups.has(g))
    .map((g) => ({
      id: `vectors-${g}`,
      title: GROUP_TITLE[g],
      async run(ctx, h) {
        for (const v of groups.get(g) ?? []) {
          const title = v.expected.valid
            ? `${v.description} Must be accepted.`
            : `${v.description} Must be denied ${groupOf(v) === 'trust-material' ? `(the ${failingMaterial(v) === 'roster' ? 'roster' : 'list'} refused)` : expectedReason(v.expected.code ?? '')}.`;
          await ctx.check({ id: v.name, title, spec: specOf(v) }, () => runVector(h, v));
        }
      },
    }));
}

/** Every valid vector scanned twice: the second scan must be REPLAYED (token-format §7.3). */
export function validVectorsReplayed(vectors: readonly Vector[]) {
  return async (h: HarnessClient): Promise<Verdict> => {
    const bad: string[] = [];
    for (const v of vectors.filter((x) => x.expected.valid)) {
      if ((await prepare(h, v)) !== undefined) {
        bad.push(`${v.name}: setup refused`);
        continue;
      }
      const first = await h.verify(v.qr, v.now);
      const second = await h.verify(v.qr, v.now);
      if (!first.accepted) bad.push(`${v.name}: first scan ${describe(first)}`);
      else if (second.accepted || second.reason !== 'REPLAYED')
        bad.push(`${v.name}: second scan ${describe(second)}`);
    }
    return bad.length === 0 ? passed() : failed(bad.join('; '));
  };
}
