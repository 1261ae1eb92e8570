/**
 * The gate device plan: the suite launches the vendor's gate with the mock platform behind a
 * recording proxy and drives it with JSON lines on stdin (`sync`, `scan`, `flush`; one reply line
 * each, `id` echoed), then judges it from its answers, the proxy's record and the platform's state.
 *
 * Environment of the device: `PLATFORM_URL`, `DEVICE_ID`, `DEVICE_KEY` (private JWK, JSON),
 * `SCHOOL_ID`, `ROOT_KEYS` (JSON array of root public JWKs), `DATA_DIR`, `SCENARIO`. The device
 * is started afresh for each module, with the same `DATA_DIR` for the whole plan run: one gate
 * whose storage survives its restarts.
 *
 * @module
 */
import {
  createPresentation,
  decodeTrustList,
  encodeQr,
  fromBase64Url,
  importPrivateJwk,
  toBase64Url,
} from '@campus-card/core';
import { DEMO_OPERATOR as OPERATOR } from '../../demo.js';
import { getTrustMaterial, rotateIssuerKey } from '../../domains/cards.js';
import type { RunningMockPlatform } from '../../server.js';
import { type ConditionMeta, failed, passed, type Verdict, warning } from '../model.js';
import type { ModuleDef } from '../runner.js';
import { connectProcessHarness } from '../verifier/connections.js';
import type { HarnessConnection, HarnessReply, HarnessRequest } from '../verifier/protocol.js';
import { type ProxiedRequest, type RecordingProxy, startRecordingProxy } from './proxy.js';

/** What the gate modules drive. */
export interface GateTarget {
  readonly platform: RunningMockPlatform;
  readonly command: string;
  /**
   * The gate's storage (`DATA_DIR`), the same for every module of a plan run: the platform
   * deduplicates events by `(device_id, seq)`, so a gate must keep numbering where it stopped,
   * and a fresh folder per module would pit a conforming gate against its own earlier events.
   */
  readonly dataDir: string;
  /** How long the gate may take for one command (sync, scan, flush), ms. */
  readonly timeoutMs: number;
}

const DEVICE = 'gate-01';
const SCHOOL = 'sch-demo';

interface Session {
  send(op: 'sync' | 'flush'): Promise<HarnessReply>;
  scan(qr: string): Promise<{ accepted: boolean; reason: string | null }>;
  readonly proxy: RecordingProxy;
  close(): Promise<void>;
}

async function openSession(t: GateTarget, scenario: string): Promise<Session> {
  const p = t.platform;
  const device = p.platform.demo?.devices.find((d) => d.id === DEVICE);
  if (device === undefined) throw new Error(`no demo device ${DEVICE}`);
  const root = await p.platform.invoke('getRootKey', { params: { school_id: SCHOOL } }, OPERATOR);
  const proxy = await startRecordingProxy(p.url);
  const conn: HarnessConnection = connectProcessHarness(t.command, {
    timeoutMs: t.timeoutMs,
    env: {
      ...process.env,
      PLATFORM_URL: proxy.url,
      DEVICE_ID: DEVICE,
      DEVICE_KEY: JSON.stringify(device.privateJwk),
      SCHOOL_ID: SCHOOL,
      ROOT_KEYS: JSON.stringify([(root.body as { jwk: unknown }).jwk]),
      DATA_DIR: t.dataDir,
      SCENARIO: scenario,
    },
  });
  let n = 0;
  const send = async (body: Record<string, unknown>) => {
    const reply = await conn.request({ id: `g${++n}`, ...body } as unknown as HarnessRequest);
    if (typeof reply.error === 'string')
      throw new Error(`device error on "${String(body.op)}": ${reply.error}`);
    return reply;
  };
  return {
    proxy,
    send: (op) => send({ op }),
    async scan(qr) {
      const r = await send({ op: 'scan', qr });
      if (typeof r.accepted !== 'boolean') throw new Error('scan: reply without a boolean "accepted"');
      return { accepted: r.accepted, reason: typeof r.reason === 'string' ? r.reason : null };
    },
    async close() {
      await conn.close();
      await proxy.close();
    },
  };
}

/** The card's current credential (base64url): re-issued ones included, unlike the demo's printout. */
function credentialOf(p: RunningMockPlatform, personId: string): string {
  const row = p.platform.state.db
    .prepare("SELECT credential FROM cards WHERE person_id = ? AND status <> 'revoked'")
    .get(personId) as { credential: Buffer } | undefined;
  if (row === undefined) throw new Error(`no card for ${personId}`);
  return toBase64Url(new Uint8Array(row.credential));
}

/** A fresh code of a demo person's card: its current credential, or `credentialB64` when given. */
async function qrOf(p: RunningMockPlatform, personId: string, credentialB64?: string): Promise<string> {
  const card = p.platform.demo?.cards.find((c) => c.personId === personId);
  if (card === undefined) throw new Error(`no demo card for ${personId}`);
  const credential = fromBase64Url(credentialB64 ?? credentialOf(p, personId));
  if (credential === undefined) throw new Error('bad demo credential');
  return encodeQr(
    await createPresentation(
      { credential, t: p.platform.clock.nowSeconds() },
      importPrivateJwk(card.holderPrivateJwk),
    ),
  );
}

function cardOf(p: RunningMockPlatform, personId: string): string {
  const card = p.platform.demo?.cards.find((c) => c.personId === personId);
  if (card === undefined) throw new Error(`no demo card for ${personId}`);
  return card.cardId;
}

interface EventRow {
  seq: number;
  decision: string;
  reason: string | null;
  card_id: string | null;
}

function events(p: RunningMockPlatform, sinceSeq = -1): EventRow[] {
  return p.platform.state.db
    .prepare('SELECT seq, decision, reason, card_id FROM events WHERE device_id = ? AND seq > ? ORDER BY seq')
    .all(DEVICE, sinceSeq) as EventRow[];
}

function maxSeq(p: RunningMockPlatform): number {
  const r = p.platform.state.db
    .prepare('SELECT MAX(seq) AS m FROM events WHERE device_id = ?')
    .get(DEVICE) as {
    m: number | null;
  };
  return r.m ?? -1;
}

const SIGNED: ConditionMeta = {
  id: 'requests-signed',
  title: 'Every request the gate sent is signed (RFC 9421) and was authenticated.',
  spec: ['api: device authentication (RFC 9421 request signatures)'],
};

function judgeSigned(requests: readonly ProxiedRequest[]): Verdict {
  if (requests.length === 0) return failed('the gate sent no request');
  const unsigned = requests.filter(
    (r) => r.headers.signature === undefined || r.headers['signature-input'] === undefined,
  );
  if (unsigned.length > 0)
    return failed(`unsigned: ${unsigned.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  const refused = requests.filter((r) => r.status === 401);
  return refused.length > 0 ? failed(`the platform refused ${refused.length} signature(s) (401)`) : passed();
}

// The conditions of each module, declared with it (ModuleDef.conditions): a gate that stops the
// module early (it crashes at its first sync, say) still has every one of them in the report.
const C_VALID_CARD_ADMITTED: ConditionMeta = {
  id: 'valid-card-admitted',
  title: 'After a sync, a valid card is admitted.',
  spec: ['token-format §5.3'],
};
const C_LOST_CARD_DENIED_AFTER_SYNC: ConditionMeta = {
  id: 'lost-card-denied-after-sync',
  title: 'After the next sync, the card reported lost is denied REVOKED.',
  spec: ['token-format §6.1', 'issue 7 §1'],
};
const C_DECISIONS_UPLOADED: ConditionMeta = {
  id: 'decisions-uploaded',
  title: 'Both decisions reach the platform as events, each as the gate decided it.',
  spec: ['api: attendance events (I3)', 'issue 7 §3'],
};
const C_UPLOAD_RETRIED: ConditionMeta = {
  id: 'upload-retried',
  title: 'The upload whose answer was lost is sent again.',
  spec: ['api: attendance events, deduplicated by (device_id, seq)'],
};
const C_RETRY_REUSES_SEQ: ConditionMeta = {
  id: 'retry-reuses-seq',
  title: 'The re-sent events carry the sequence numbers of the first attempt.',
  spec: ['api: attendance events, deduplicated by (device_id, seq)'],
};
const C_EVENTS_COUNTED_ONCE: ConditionMeta = {
  id: 'events-counted-once',
  title: 'The platform holds each of the three decisions exactly once.',
  spec: ['api: attendance events (I3)'],
};
const C_CARD_ADMITTED_BEFORE_ROTATION: ConditionMeta = {
  id: 'card-admitted-before-rotation',
  title: 'Before the rotation, a valid card is admitted.',
  spec: ['token-format §5.3'],
};
const C_NEW_TRUST_LIST_FETCHED: ConditionMeta = {
  id: 'new-trust-list-fetched',
  title: 'At the next sync the gate fetches the trust list and gets the new version.',
  spec: ['token-format §6', 'api: trust material (ETag, If-None-Match)'],
};
const C_NEW_KEY_CARD_ADMITTED_AFTER_SYNC: ConditionMeta = {
  id: 'new-key-card-admitted-after-sync',
  title: 'After the sync, a card re-issued under the new issuer key is admitted.',
  spec: ['token-format §6', 'token-format §5.3'],
};
const C_RETIRED_KEY_CARD_DENIED: ConditionMeta = {
  id: 'retired-key-card-denied',
  title: 'A credential signed by the retired issuer key (no longer in the trust list) is denied.',
  spec: ['token-format §6', 'token-format §9 (ERR_UNKNOWN_ISSUER)'],
};
const C_ROLLBACK_REFUSED: ConditionMeta = {
  id: 'rollback-refused',
  title:
    'When the old trust list is served again, the gate refuses it: the new key stays trusted, the retired one refused.',
  spec: ['token-format §7.1'],
};

/**
 * Whether a re-sent batch begins with the first attempt's sequence numbers, number for number (as
 * text, "1,2,30" would begin with "1,2,3").
 */
export function retryReusesSeqs(first: readonly number[], retry: readonly number[]): boolean {
  return first.length > 0 && first.every((seq, i) => retry[i] === seq);
}

/** A card reported lost stops at the next sync, and both decisions reach the platform. */
export const revokedCardModule: ModuleDef<GateTarget> = {
  id: 'revoked-card',
  title: 'A card reported lost is denied after the next sync; every decision is uploaded',
  conditions: [C_VALID_CARD_ADMITTED, C_LOST_CARD_DENIED_AFTER_SYNC, C_DECISIONS_UPLOADED, SIGNED],
  async run(ctx, t) {
    const p = t.platform;
    const s = await openSession(t, 'revoked-card');
    // restored at the end only if this module reported it lost: a restore of an active card
    // would throw, and hide why the module stopped (a gate that timed out, say)
    let reported = false;
    try {
      const from = maxSeq(p);
      await s.send('sync');
      // what the gate decided, in order: the uploaded events must say the same
      const decided: string[] = [];
      await ctx.check(C_VALID_CARD_ADMITTED, async () => {
        const d = await s.scan(await qrOf(p, 's-002'));
        decided.push(d.accepted ? 'allowed' : 'denied');
        return d.accepted ? passed() : failed(`denied ${d.reason}`);
      });
      const lost = await p.platform.invoke(
        'reportCardLost',
        { params: { card_id: cardOf(p, 's-002') }, body: { reason: 'conformance: lost' } },
        OPERATOR,
      );
      if (lost.status !== 200) throw new Error(`setup: reportCardLost answered ${lost.status}`);
      reported = true;
      await s.send('sync');
      await ctx.check(C_LOST_CARD_DENIED_AFTER_SYNC, async () => {
        const d = await s.scan(await qrOf(p, 's-002'));
        decided.push(d.accepted ? 'allowed' : 'denied');
        if (d.accepted) return failed('admitted: the gate did not apply the new status list');
        return d.reason === 'REVOKED' ? passed() : warning(`denied ${d.reason}, expected REVOKED`);
      });
      await s.send('flush');
      await ctx.check(C_DECISIONS_UPLOADED, () => {
        const rows = events(p, from);
        const got = rows.map((r) => `${r.decision}${r.reason === null ? '' : `:${r.reason}`}`);
        return got.length === decided.length && rows.every((r, i) => r.decision === decided[i])
          ? passed()
          : failed(`gate decisions ${JSON.stringify(decided)}; platform events: ${JSON.stringify(got)}`);
      });
      await ctx.check(SIGNED, () => judgeSigned(s.proxy.requests));
    } finally {
      await s.close();
      if (reported) {
        await p.platform.invoke(
          'restoreCard',
          { params: { card_id: cardOf(p, 's-002') }, body: {} },
          OPERATOR,
        );
      }
    }
  },
};

/** An event upload whose answer is lost: re-sent with the same sequence numbers, counted once. */
export const eventDedupeModule: ModuleDef<GateTarget> = {
  id: 'event-upload-dedupe',
  title: 'A lost upload answer: events re-sent with the same seq, none lost, none counted twice',
  conditions: [C_UPLOAD_RETRIED, C_RETRY_REUSES_SEQ, C_EVENTS_COUNTED_ONCE, SIGNED],
  async run(ctx, t) {
    const p = t.platform;
    const s = await openSession(t, 'event-upload-dedupe');
    try {
      await s.send('sync');
      const from = maxSeq(p);
      for (const person of ['s-001', 't-001', 's-001']) await s.scan(await qrOf(p, person));
      p.platform.state.faults.set([
        { kind: 'drop_after_commit', device_id: DEVICE, route: 'uploadEvents', count: 1 },
      ]);
      try {
        await s.send('flush');
        await s.send('flush');
      } finally {
        p.platform.state.faults.clear();
      }
      const uploads = s.proxy.requests.filter(
        (r) => r.method === 'POST' && r.path.startsWith('/v1/events/batches'),
      );
      await ctx.check(C_UPLOAD_RETRIED, () =>
        uploads.length >= 2 ? passed() : failed(`${uploads.length} upload request(s)`),
      );
      await ctx.check(C_RETRY_REUSES_SEQ, () => {
        const seqs = uploads.map((u) =>
          ((JSON.parse(u.body) as { events?: { seq: number }[] }).events ?? []).map((e) => e.seq),
        );
        const [first, retry] = seqs;
        return first !== undefined && retry !== undefined && retryReusesSeqs(first, retry)
          ? passed()
          : failed(`batches by seq: ${JSON.stringify(seqs.map((x) => x.join(',')))}`);
      });
      await ctx.check(C_EVENTS_COUNTED_ONCE, () => {
        const rows = events(p, from);
        return rows.length === 3 ? passed() : failed(`${rows.length} events stored for 3 scans`);
      });
      await ctx.check(SIGNED, () => judgeSigned(s.proxy.requests));
    } finally {
      await s.close();
    }
  },
};

interface TrustRow {
  version: number;
  etag: string;
  bytes: Buffer;
}

function trustRow(p: RunningMockPlatform): TrustRow {
  return p.platform.state.db
    .prepare("SELECT version, etag, bytes FROM trust_material WHERE school_id = ? AND kind = 'trust-list'")
    .get(SCHOOL) as TrustRow;
}

/** Serves `row` as the school's trust list (no re-signing) until something else changes it. */
function serveTrustRow(p: RunningMockPlatform, row: TrustRow): void {
  p.platform.state.db
    .prepare(
      "UPDATE trust_material SET version = ?, etag = ?, bytes = ?, dirty = 0 WHERE school_id = ? AND kind = 'trust-list'",
    )
    .run(row.version, row.etag, row.bytes, SCHOOL);
}

/**
 * The platform rotates its issuer key: the gate takes the new trust list at its next sync, admits
 * cards re-issued under the new key, denies credentials of the retired key, and refuses the old
 * trust list when it is served again (rollback).
 */
export const trustListRotationModule: ModuleDef<GateTarget> = {
  id: 'trust-list-rotation',
  title:
    'An issuer key rotation: the new trust list taken at the next sync, the retired key refused, no rollback',
  conditions: [
    C_CARD_ADMITTED_BEFORE_ROTATION,
    C_NEW_TRUST_LIST_FETCHED,
    C_NEW_KEY_CARD_ADMITTED_AFTER_SYNC,
    C_RETIRED_KEY_CARD_DENIED,
    C_ROLLBACK_REFUSED,
    SIGNED,
  ],
  async run(ctx, t) {
    const p = t.platform;
    const s = await openSession(t, 'trust-list-rotation');
    const PERSON = 's-003';
    try {
      await s.send('sync');
      const before = (await getTrustMaterial(p.platform.state, SCHOOL, 'trust-list')).version;
      const oldCredential = credentialOf(p, PERSON);
      await ctx.check(C_CARD_ADMITTED_BEFORE_ROTATION, async () => {
        const d = await s.scan(await qrOf(p, PERSON));
        return d.accepted ? passed() : failed(`denied ${d.reason}`);
      });
      const old = trustRow(p);
      const rotation = await rotateIssuerKey(p.platform.state, SCHOOL);
      const fetchedFrom = s.proxy.requests.length;
      await s.send('sync');
      await ctx.check(C_NEW_TRUST_LIST_FETCHED, () => {
        const got = s.proxy.requests
          .slice(fetchedFrom)
          .filter((r) => r.method === 'GET' && r.path.split('?')[0]?.endsWith('/trust-list'));
        if (got.length === 0) return failed('no trust list request at the sync after the rotation');
        return got.some((r) => r.status === 200)
          ? passed()
          : failed(
              `trust list answers: ${got.map((r) => r.status).join(', ')} (v${before} → v${rotation.trustListVersion})`,
            );
      });
      await ctx.check(C_NEW_KEY_CARD_ADMITTED_AFTER_SYNC, async () => {
        const d = await s.scan(await qrOf(p, PERSON));
        return d.accepted
          ? passed()
          : failed(`denied ${d.reason}: the gate did not take trust list v${rotation.trustListVersion}`);
      });
      await ctx.check(C_RETIRED_KEY_CARD_DENIED, async () => {
        const d = await s.scan(await qrOf(p, PERSON, oldCredential));
        if (d.accepted) return failed('admitted: the gate still trusts the retired issuer key');
        return d.reason === 'UNKNOWN_ISSUER'
          ? passed()
          : warning(`denied ${d.reason}, expected UNKNOWN_ISSUER`);
      });
      // A replayed platform (or an attacker in the path) serves the old trust list again.
      const current = trustRow(p);
      serveTrustRow(p, { ...old, etag: `"trust-list-v${old.version}-served-again"` });
      try {
        await s.send('sync');
      } finally {
        serveTrustRow(p, current);
      }
      await ctx.check(C_ROLLBACK_REFUSED, async () => {
        const served = decodeTrustList(new Uint8Array(old.bytes)).trustList.version;
        const fresh = await s.scan(await qrOf(p, PERSON));
        const retired = await s.scan(await qrOf(p, PERSON, oldCredential));
        if (retired.accepted)
          return failed(`the gate took trust list v${served} back: the retired key is trusted again`);
        if (!fresh.accepted)
          return failed(
            `after trust list v${served} was served again, the new key's card is denied ${fresh.reason}`,
          );
        return passed();
      });
      await ctx.check(SIGNED, () => judgeSigned(s.proxy.requests));
    } finally {
      await s.close();
    }
  },
};
