/**
 * The POS device plan: the suite launches the vendor's POS for one sale per scenario, with the
 * mock platform behind a recording proxy, turns faults on, and judges the device from what the
 * platform and the proxy saw.
 *
 * Device contract: the command runs one sale and exits 0 when it reached a final outcome. Its
 * environment: `PLATFORM_URL`, `DEVICE_ID`, `DEVICE_KEY` (the device's private JWK, JSON),
 * `MERCHANT_ID`, `SCENARIO`, `QR` (the scanned code), `AMOUNT_FEN`, `OUT_TRADE_NO`.
 *
 * @module
 */
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk } from '@campus-card/core';
import { DEMO_OPERATOR as OPERATOR } from '../../demo.js';
import { checkLedger } from '../../domains/ledger.js';
import type { RunningMockPlatform } from '../../server.js';
import { type ConditionMeta, failed, passed, type Verdict } from '../model.js';
import type { ModuleContext, ModuleDef } from '../runner.js';
import { makeDataDir, removeDataDir } from './data-dir.js';
import { launchDevice } from './launch.js';
import { type ProxiedRequest, startRecordingProxy } from './proxy.js';

/** What the POS modules drive. */
export interface PosTarget {
  readonly platform: RunningMockPlatform;
  /** The device command. */
  readonly command: string;
  /** How long one sale may take, ms. */
  readonly saleTimeoutMs: number;
}

const DEVICE = 'pos-01';
const MERCHANT = 'm-canteen-s';
const PAYER = 's-001';

async function qrOf(p: RunningMockPlatform, personId: string): Promise<string> {
  const card = p.platform.demo?.cards.find((c) => c.personId === personId);
  if (card === undefined) throw new Error(`no demo card for ${personId}`);
  const credential = fromBase64Url(card.credential);
  if (credential === undefined) throw new Error('bad demo credential');
  return encodeQr(
    await createPresentation(
      { credential, t: p.platform.clock.nowSeconds() },
      importPrivateJwk(card.holderPrivateJwk),
    ),
  );
}

async function balance(p: RunningMockPlatform, personId: string): Promise<number> {
  const r = await p.platform.invoke('getWallet', { params: { person_id: personId } }, OPERATOR);
  return (r.body as { balance: number }).balance;
}

function orders(p: RunningMockPlatform, outTradeNo: string): { status: string }[] {
  return p.platform.state.db.prepare('SELECT status FROM orders WHERE out_trade_no = ?').all(outTradeNo) as {
    status: string;
  }[];
}

interface Sale {
  readonly exit: number | string;
  readonly requests: readonly ProxiedRequest[];
  readonly before: number;
  readonly after: number;
  readonly outTradeNo: string;
  readonly amount: number;
  readonly stderr: string;
  /** The sale's time limit ran out and the device was stopped. */
  readonly timedOut: boolean;
}

const SALE_COMPLETED = {
  id: 'sale-completed',
  title: 'The device finished the sale (exit 0, within the time limit).',
  spec: ['conformance: device contract'],
} as const;

/** Whether the device finished the sale on its own: exit 0, not stopped at the time limit. */
function judgeCompleted(t: PosTarget, s: Sale) {
  if (s.timedOut)
    return failed(`the device did not finish within ${t.saleTimeoutMs} ms; stderr: ${s.stderr}`);
  return s.exit === 0 ? passed() : failed(`exit ${s.exit}; stderr: ${s.stderr}`);
}

async function runSale(t: PosTarget, scenario: string, outTradeNo: string, amount: number): Promise<Sale> {
  const p = t.platform;
  const device = p.platform.demo?.devices.find((d) => d.id === DEVICE);
  if (device === undefined) throw new Error('no demo device pos-01');
  const proxy = await startRecordingProxy(p.url);
  const before = await balance(p, PAYER);
  const launched = launchDevice(t.command, {
    PLATFORM_URL: proxy.url,
    DEVICE_ID: DEVICE,
    DEVICE_KEY: JSON.stringify(device.privateJwk),
    MERCHANT_ID: MERCHANT,
    SCENARIO: scenario,
    QR: await qrOf(p, PAYER),
    AMOUNT_FEN: String(amount),
    OUT_TRADE_NO: outTradeNo,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void launched.stop();
  }, t.saleTimeoutMs);
  const exit = await launched.exited;
  clearTimeout(timer);
  // what the device left running (its shell's children) is stopped with the sale, as the gate's is
  await launched.stop();
  await proxy.close();
  return {
    exit,
    requests: proxy.requests,
    before,
    after: await balance(p, PAYER),
    outTradeNo,
    amount,
    stderr: launched.stderrTail(),
    timedOut,
  };
}

const SIGNED: ConditionMeta = {
  id: 'requests-signed',
  title:
    'Every request the device sent is signed (RFC 9421 Signature and Signature-Input) and was authenticated.',
  spec: ['api: device authentication (RFC 9421 request signatures)'],
};
const CHARGED_ONCE: ConditionMeta = {
  id: 'charged-once',
  title: 'The payer was charged exactly once: one order for the sale and the balance moved by its amount.',
  spec: ['api: payments (idempotent create, out_trade_no)'],
};
const FINAL: ConditionMeta = {
  id: 'order-final',
  title: 'The order reached a final state (success, failed, reversed or closed) and the ledger balances.',
  spec: ['api: payments (order state machine)'],
};

function judgeSigned(s: Pick<Sale, 'requests' | 'exit' | 'stderr'>): Verdict {
  if (s.requests.length === 0)
    return failed(`the device sent no request (exit ${s.exit}; stderr: ${s.stderr})`);
  const unsigned = s.requests.filter(
    (r) => r.headers.signature === undefined || r.headers['signature-input'] === undefined,
  );
  if (unsigned.length > 0)
    return failed(`unsigned: ${unsigned.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  const refused = s.requests.filter((r) => r.status === 401);
  return refused.length > 0 ? failed(`the platform refused ${refused.length} signature(s) (401)`) : passed();
}

function judgeChargedOnce(p: RunningMockPlatform, s: Sale): Verdict {
  const rows = orders(p, s.outTradeNo);
  if (rows.length !== 1) return failed(`${rows.length} orders for ${s.outTradeNo}`);
  const paid = rows[0]?.status === 'success';
  const moved = s.before - s.after;
  const want = paid ? s.amount : 0;
  return moved === want
    ? passed()
    : failed(`balance moved by ${moved} fen; expected ${want} (order ${rows[0]?.status})`);
}

function judgeFinal(p: RunningMockPlatform, s: Sale): Verdict {
  const rows = orders(p, s.outTradeNo);
  const open = rows.filter((r) => !['success', 'failed', 'reversed', 'closed'].includes(r.status));
  if (rows.length === 0) return failed(`no order for ${s.outTradeNo} (exit ${s.exit}; stderr: ${s.stderr})`);
  if (open.length > 0) return failed(`order left ${open.map((r) => r.status).join(', ')}`);
  const ledger = checkLedger(p.platform.state);
  return ledger.balanced ? passed() : failed(`ledger: ${ledger.problems.join('; ')}`);
}

async function judgeCommon(ctx: ModuleContext, p: RunningMockPlatform, s: Sale): Promise<void> {
  await ctx.check(SIGNED, () => judgeSigned(s));
  await ctx.check(CHARGED_ONCE, () => judgeChargedOnce(p, s));
  await ctx.check(FINAL, () => judgeFinal(p, s));
}

/** Scan-to-pay with no fault. */
export const scanToPayModule: ModuleDef<PosTarget> = {
  id: 'scan-to-pay',
  title: 'Scan-to-pay: one scan, one signed payment, one charge',
  async run(ctx, t) {
    const s = await runSale(t, 'scan-to-pay', `CONF-PAY-${Date.now()}`, 1250);
    await ctx.check(SALE_COMPLETED, () => judgeCompleted(t, s));
    await judgeCommon(ctx, t.platform, s);
  },
};

/** The platform commits the payment but the answer is lost, twice: the device must retry with the same key, then poll. */
export const timeoutPollModule: ModuleDef<PosTarget> = {
  id: 'timeout-poll',
  title: 'A lost answer: retry with the same idempotency key, poll, never charge twice',
  async run(ctx, t) {
    const faults = t.platform.platform.state.faults;
    faults.set([{ kind: 'drop_after_commit', device_id: DEVICE, route: 'createPayment', count: 2 }]);
    let s: Sale;
    try {
      s = await runSale(t, 'timeout-poll', `CONF-DROP-${Date.now()}`, 800);
    } finally {
      faults.clear();
    }
    await ctx.check(
      {
        id: 'retried-with-same-idempotency-key',
        title: 'Every retry of the payment create carries the Idempotency-Key of the first attempt.',
        spec: ['api: idempotency (Idempotency-Key on every POST, reused on retry)'],
      },
      () => {
        const creates = s.requests.filter(
          (r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/payments',
        );
        if (creates.length < 2)
          return failed(
            `${creates.length} create attempt(s); the answer was dropped, a retry or a poll was expected`,
          );
        const keys = new Set(creates.map((r) => String(r.headers['idempotency-key'] ?? '')));
        return keys.size === 1 && !keys.has('')
          ? passed()
          : failed(`${creates.length} attempts used ${keys.size} different keys`);
      },
    );
    // a device that crashed or hung after its retries would pass the rest: the platform commits anyway
    await ctx.check(SALE_COMPLETED, () => judgeCompleted(t, s));
    await judgeCommon(ctx, t.platform, s);
  },
};

function isCreate(r: ProxiedRequest): boolean {
  return r.method === 'POST' && r.path.split('?')[0] === '/v1/payments';
}

/**
 * The holder never confirms in time: the sale is above the platform's confirmation threshold, so
 * the order stays `processing` for `confirmDelayS` (the plan sets it well past the sale's time
 * limit). The device must poll on its schedule, give up, and reverse, reusing the reverse's
 * Idempotency-Key when the platform commits the first reverse and drops its answer.
 */
export const timeoutPollReverseModule: ModuleDef<PosTarget> = {
  id: 'timeout-poll-reverse',
  title: 'A payment not confirmed in time: poll on a schedule, then reverse it with an idempotency key',
  async run(ctx, t) {
    const p = t.platform;
    const state = p.platform.state;
    if (state.settings.confirmDelayS * 1000 <= t.saleTimeoutMs)
      throw new Error(
        `confirmDelayS (${state.settings.confirmDelayS} s) must outlast the sale (${t.saleTimeoutMs} ms): the payment would be confirmed before the device gives up`,
      );
    const stamp = Date.now();
    const amount = state.settings.confirmThreshold + 2_000;
    // the holder can afford it: what keeps the order processing is the missing confirmation, not funds
    const topUp = await p.platform.invoke(
      'topUpWallet',
      {
        params: { person_id: PAYER },
        body: { out_trade_no: `CONF-TOPUP-${stamp}`, amount, channel: 'simulated' },
      },
      OPERATOR,
    );
    if (topUp.status >= 300) throw new Error(`top-up of ${PAYER} failed: ${JSON.stringify(topUp.body)}`);
    const outTradeNo = `CONF-HOLD-${stamp}`;
    const faults = state.faults;
    faults.set([{ kind: 'drop_after_commit', device_id: DEVICE, route: 'reversePayment', count: 1 }]);
    let s: Sale;
    try {
      s = await runSale(t, 'timeout-poll-reverse', outTradeNo, amount);
    } finally {
      faults.clear();
    }
    const base = `/v1/payments/${encodeURIComponent(outTradeNo)}`;
    const queries = (rs: readonly ProxiedRequest[]) =>
      rs.filter((r) => r.method === 'GET' && r.path.split('?')[0] === base);
    const reverses = s.requests.filter(
      (r) => r.method === 'POST' && r.path.split('?')[0] === `${base}/reverse`,
    );
    const status = () => orders(p, outTradeNo)[0]?.status ?? 'no order';

    await ctx.check(
      {
        id: 'polled-before-reversing',
        title:
          'After the payment came back processing, the device queried its status more than once (its poll schedule) before sending the reverse.',
        spec: [
          'api: payments (processing orders; GET /v1/payments/{out_trade_no}, polled on a schedule)',
          'api: payments (order state machine)',
        ],
      },
      () => {
        const firstCreate = s.requests.findIndex(isCreate);
        if (firstCreate < 0) return failed(`no payment was created (exit ${s.exit}; stderr: ${s.stderr})`);
        const firstReverse = s.requests.findIndex((r) => reverses.includes(r));
        const window = s.requests.slice(firstCreate + 1, firstReverse < 0 ? undefined : firstReverse);
        const n = queries(window).length;
        return n >= 2
          ? passed()
          : failed(
              `${n} status quer${n === 1 ? 'y' : 'ies'} before ${firstReverse < 0 ? 'giving up' : 'the reverse'}; a poll schedule was expected`,
            );
      },
    );
    await ctx.check(
      {
        id: 'reverse-sent-with-idempotency-key',
        title:
          'The device reversed the payment it could not confirm (POST /v1/payments/{out_trade_no}/reverse) with an Idempotency-Key, and re-sent the reverse whose answer was lost with the same key.',
        spec: [
          'api: payments (POST /v1/payments/{out_trade_no}/reverse)',
          'api: idempotency (Idempotency-Key on every POST, reused on retry)',
        ],
      },
      () => {
        if (reverses.length === 0)
          return failed(
            `no reverse was sent; the order is ${status()} (exit ${s.exit}; stderr: ${s.stderr})`,
          );
        const keys = reverses.map((r) => String(r.headers['idempotency-key'] ?? ''));
        if (keys.includes(''))
          return failed(`${keys.filter((k) => k === '').length} reverse(s) without an Idempotency-Key`);
        if (reverses.length < 2)
          return failed('the first reverse was committed and its answer lost, but it was not sent again');
        const distinct = new Set(keys).size;
        return distinct === 1
          ? passed()
          : failed(`${reverses.length} reverse attempts used ${distinct} different keys`);
      },
    );
    await ctx.check(
      {
        id: 'order-reversed',
        title: 'The order ended reversed (one order for the sale), and the ledger balances.',
        spec: ['api: payments (order state machine: processing → reversed)', 'api: payments (out_trade_no)'],
      },
      () => {
        const rows = orders(p, outTradeNo);
        if (rows.length !== 1) return failed(`${rows.length} orders for ${outTradeNo} (exit ${s.exit})`);
        if (rows[0]?.status !== 'reversed')
          return failed(`order left ${rows[0]?.status} (exit ${s.exit}; stderr: ${s.stderr})`);
        const ledger = checkLedger(state);
        return ledger.balanced ? passed() : failed(`ledger: ${ledger.problems.join('; ')}`);
      },
    );
    await ctx.check(
      {
        id: 'holder-not-charged',
        title: "The holder's wallet balance is the same after the sale as before it.",
        spec: [
          'api: payments (a reversed order moves no money)',
          'api: wallets (GET /v1/wallets/{person_id})',
        ],
      },
      () =>
        s.after === s.before
          ? passed()
          : failed(`balance moved by ${s.before - s.after} fen (order ${status()})`),
    );
    await ctx.check(SALE_COMPLETED, () => judgeCompleted(t, s));
    await ctx.check(SIGNED, () => judgeSigned(s));
  },
};

interface OfflineSale {
  readonly payer: string;
  readonly amount: number;
  readonly outTradeNo: string;
  /** Above the device's per-transaction offline cap: it must not be sold offline. */
  readonly overCap: boolean;
}

interface UploadedItem {
  seq: number;
  out_trade_no: string;
}

function uploadedItems(r: ProxiedRequest): UploadedItem[] {
  try {
    return (JSON.parse(r.body) as { items?: UploadedItem[] }).items ?? [];
  } catch {
    return [];
  }
}

/**
 * The POS loses the network, sells within its offline caps, then uploads the batch when the
 * network is back; the platform commits the first upload and drops its answer.
 */
export const offlineBatchModule: ModuleDef<PosTarget> = {
  id: 'offline-batch',
  title: 'Offline sales within caps, uploaded in an idempotent batch: each charged once, none lost',
  async run(ctx, t) {
    const p = t.platform;
    const device = p.platform.demo?.devices.find((d) => d.id === DEVICE);
    if (device === undefined) throw new Error('no demo device pos-01');
    const caps = p.platform.state.db
      .prepare('SELECT offline_tx_cap, offline_device_cap FROM devices WHERE device_id = ?')
      .get(DEVICE) as { offline_tx_cap: number; offline_device_cap: number };
    // the business day the device cap counts by (the device resource's `offline_day_utc_offset`)
    const dayUtcOffset = p.platform.state.settings.dayUtcOffset;
    const stamp = Date.now();
    const sales: OfflineSale[] = [
      { payer: 's-001', amount: 1200, outTradeNo: `CONF-OFF-${stamp}-1`, overCap: false },
      { payer: 's-002', amount: 800, outTradeNo: `CONF-OFF-${stamp}-2`, overCap: false },
      {
        payer: 's-001',
        amount: caps.offline_tx_cap + 1000,
        outTradeNo: `CONF-OFF-${stamp}-3`,
        overCap: true,
      },
      { payer: 's-002', amount: 1500, outTradeNo: `CONF-OFF-${stamp}-4`, overCap: false },
    ];
    const payers = [...new Set(sales.map((s) => s.payer))];
    const before = new Map<string, number>();
    for (const payer of payers) before.set(payer, await balance(p, payer));
    const dataDir = makeDataDir('conformance-pos-');
    const proxy = await startRecordingProxy(p.url);
    await proxy.setOnline(false);
    const reported = new Map<string, string>();
    let online: Promise<void> | undefined;
    const faults = p.platform.state.faults;
    let exit: number | string;
    let stderr: string;
    try {
      const launched = launchDevice(
        t.command,
        {
          PLATFORM_URL: proxy.url,
          DEVICE_ID: DEVICE,
          DEVICE_KEY: JSON.stringify(device.privateJwk),
          MERCHANT_ID: MERCHANT,
          SCENARIO: 'offline-batch',
          DATA_DIR: dataDir,
          OFFLINE_CAPS: JSON.stringify({
            per_transaction_fen: caps.offline_tx_cap,
            total_fen: caps.offline_device_cap,
            max_age_seconds: 3600,
            day_utc_offset: dayUtcOffset,
          }),
          SALES: JSON.stringify(
            await Promise.all(
              sales.map(async (s) => ({
                qr: await qrOf(p, s.payer),
                amount_fen: s.amount,
                out_trade_no: s.outTradeNo,
              })),
            ),
          ),
        },
        (line) => {
          let m: { out_trade_no?: unknown; status?: unknown };
          try {
            m = JSON.parse(line) as typeof m;
          } catch {
            return;
          }
          if (typeof m.out_trade_no !== 'string' || typeof m.status !== 'string') return;
          if (!sales.some((s) => s.outTradeNo === m.out_trade_no) || reported.has(m.out_trade_no)) return;
          reported.set(m.out_trade_no, m.status);
          if (reported.size === sales.length && online === undefined) {
            // every sale is decided: the network comes back, and the first upload's answer is lost
            faults.set([
              { kind: 'drop_after_commit', device_id: DEVICE, route: 'uploadOfflinePayments', count: 1 },
            ]);
            online = proxy.setOnline(true);
            // awaited once the device has exited: a failure to listen again (the port taken
            // meanwhile) must not be an unhandled rejection ending the suite before then
            online.catch(() => {});
          }
        },
      );
      const timer = setTimeout(() => void launched.stop(), t.saleTimeoutMs);
      exit = await launched.exited;
      clearTimeout(timer);
      await launched.stop(); // and whatever it left running
      stderr = launched.stderrTail();
      await online?.catch((error: unknown) => {
        throw new Error(
          `setup: the network could not be plugged back in: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    } finally {
      faults.clear();
      await proxy.close();
      removeDataDir(dataDir);
    }
    const requests = proxy.requests;
    const uploads = requests.filter(
      (r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/payments/offline-batches',
    );
    const within = sales.filter((s) => !s.overCap);
    const overCap = sales.filter((s) => s.overCap);

    await ctx.check(
      {
        id: 'sales-accepted-offline',
        title: 'With the platform unreachable, every sale within the offline caps is accepted offline.',
        spec: ['api: offline payments (per-transaction and per-device caps)'],
      },
      () => {
        if (reported.size < sales.length)
          return failed(
            `the device reported ${reported.size} of ${sales.length} sales (exit ${exit}; stderr: ${stderr})`,
          );
        const refused = within.filter((s) => reported.get(s.outTradeNo) !== 'offline_accepted');
        return refused.length === 0
          ? passed()
          : failed(refused.map((s) => `${s.outTradeNo}: ${reported.get(s.outTradeNo)}`).join('; '));
      },
    );
    await ctx.check(
      {
        id: 'over-cap-sale-refused',
        title: 'A sale above the per-transaction offline cap is not sold offline (nor uploaded).',
        spec: ['api: offline payments (per-transaction and per-device caps)'],
      },
      () => {
        const sent = new Set(uploads.flatMap((u) => uploadedItems(u).map((i) => i.out_trade_no)));
        const bad = overCap.filter(
          (s) => reported.get(s.outTradeNo) === 'offline_accepted' || sent.has(s.outTradeNo),
        );
        return bad.length === 0
          ? passed()
          : failed(
              `sold offline past the ${caps.offline_tx_cap} fen cap: ${bad.map((s) => `${s.outTradeNo} (${s.amount} fen)`).join(', ')}; the platform rejects it at upload, the revenue is lost`,
            );
      },
    );
    await ctx.check(
      {
        id: 'batch-retried-with-same-idempotency-key',
        title:
          'The offline batch is uploaded with an Idempotency-Key, and the upload whose answer was lost is re-sent with the same key and the same items (seq, out_trade_no).',
        spec: [
          'api: idempotency (Idempotency-Key on every POST, reused on retry)',
          'api: offline payments, deduplicated by (device_id, seq)',
        ],
      },
      () => {
        if (uploads.length === 0)
          return failed(`no offline batch was uploaded (exit ${exit}; stderr: ${stderr})`);
        const keyless = uploads.filter((u) => String(u.headers['idempotency-key'] ?? '') === '');
        if (keyless.length > 0) return failed(`${keyless.length} upload(s) without an Idempotency-Key`);
        if (uploads.length < 2)
          return failed('the first upload was committed and its answer lost, but it was not sent again');
        const [first, retry] = uploads as [ProxiedRequest, ProxiedRequest];
        const items = (u: ProxiedRequest) =>
          uploadedItems(u)
            .map((i) => `${i.seq}:${i.out_trade_no}`)
            .join(',');
        if (retry.headers['idempotency-key'] !== first.headers['idempotency-key'])
          return failed('the re-sent batch carries a new Idempotency-Key');
        return items(retry) === items(first)
          ? passed()
          : failed(`items ${items(first)} were re-sent as ${items(retry)}`);
      },
    );
    await ctx.check(SIGNED, () => judgeSigned({ exit, requests, stderr }));
    await ctx.check(
      {
        id: 'charged-once',
        title:
          'Each offline sale is charged exactly once (one order each, balances moved by the sales), the re-sent batch adding nothing.',
        spec: ['api: offline payments, deduplicated by (device_id, seq)', 'api: payments (out_trade_no)'],
      },
      async () => {
        const problems: string[] = [];
        for (const s of within) {
          const n = orders(p, s.outTradeNo).length;
          if (n > 1) problems.push(`${n} orders for ${s.outTradeNo}`);
        }
        const items = p.platform.state.db
          .prepare(
            "SELECT out_trade_no, COUNT(*) AS n FROM offline_items WHERE device_id = ? AND outcome = 'accepted' AND out_trade_no LIKE ? GROUP BY out_trade_no HAVING n > 1",
          )
          .all(DEVICE, `CONF-OFF-${stamp}-%`) as { out_trade_no: string; n: number }[];
        for (const i of items) problems.push(`${i.n} accepted offline items for ${i.out_trade_no}`);
        for (const payer of payers) {
          const paid = within
            .filter((s) => s.payer === payer && orders(p, s.outTradeNo)[0]?.status === 'success')
            .reduce((a, s) => a + s.amount, 0);
          const moved = (before.get(payer) ?? 0) - (await balance(p, payer));
          if (moved !== paid) problems.push(`${payer}: balance moved by ${moved} fen, ${paid} fen sold`);
        }
        return problems.length === 0 ? passed() : failed(problems.join('; '));
      },
    );
    await ctx.check(
      {
        id: 'nothing-lost',
        title:
          'Every sale accepted offline reaches the platform as a successful order, the device finishes (exit 0), and the ledger balances.',
        spec: ['api: offline payments', 'api: payments (order state machine)'],
      },
      () => {
        const lost = within.filter((s) => orders(p, s.outTradeNo)[0]?.status !== 'success');
        if (lost.length > 0)
          return failed(
            `${lost.map((s) => `${s.outTradeNo}: ${orders(p, s.outTradeNo)[0]?.status ?? 'no order'}`).join('; ')} (exit ${exit}; stderr: ${stderr})`,
          );
        if (exit !== 0) return failed(`exit ${exit}; stderr: ${stderr}`);
        const ledger = checkLedger(p.platform.state);
        return ledger.balanced ? passed() : failed(`ledger: ${ledger.problems.join('; ')}`);
      },
    );
  },
};
