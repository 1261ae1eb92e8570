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
import { checkLedger } from '../../domains/ledger.js';
import type { RunningMockPlatform } from '../../server.js';
import { type ConditionMeta, failed, passed, type Verdict } from '../model.js';
import type { ModuleContext, ModuleDef } from '../runner.js';
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
  const r = await p.platform.invoke('getWallet', { params: { person_id: personId } });
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
  const timer = setTimeout(() => void launched.stop(), t.saleTimeoutMs);
  const exit = await launched.exited;
  clearTimeout(timer);
  await proxy.close();
  return {
    exit,
    requests: proxy.requests,
    before,
    after: await balance(p, PAYER),
    outTradeNo,
    amount,
    stderr: launched.stderrTail(),
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

function judgeSigned(s: Sale): Verdict {
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
    await ctx.check(
      {
        id: 'sale-completed',
        title: 'The device finished the sale (exit 0).',
        spec: ['conformance: device contract'],
      },
      () => (s.exit === 0 ? passed() : failed(`exit ${s.exit}; stderr: ${s.stderr}`)),
    );
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
    await judgeCommon(ctx, t.platform, s);
  },
};
