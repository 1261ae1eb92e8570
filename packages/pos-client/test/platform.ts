import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk } from '@campus-card/core';
import {
  createClock,
  DEMO_OPERATOR,
  type RunningMockPlatform,
  startMockPlatform,
} from '@campus-card/mock-server';
import { Agent } from 'undici';
import { createPosClient, type PosClient, type PosClientOptions } from '../src/index.js';

/** The real mock platform on port 0 with its demo school; a ticking, movable clock. */
export async function startPlatform(settings: Record<string, number> = {}): Promise<RunningMockPlatform> {
  return startMockPlatform({ port: 0, demo: true, clock: createClock(), pushIntervalMs: 50, settings });
}

/** A fresh QR code of a demo person's card, made now by the phone key. */
export async function qrOf(server: RunningMockPlatform, personId: string): Promise<string> {
  const card = server.platform.demo?.cards.find((c) => c.personId === personId);
  if (card === undefined) throw new Error(`no demo card for ${personId}`);
  const credential = fromBase64Url(card.credential);
  if (credential === undefined) throw new Error('bad credential');
  const bytes = await createPresentation(
    { credential, t: server.platform.clock.nowSeconds() },
    importPrivateJwk(card.holderPrivateJwk),
  );
  return encodeQr(bytes);
}

/** A POS client for demo device pos-01 on the platform's clock, with test-friendly keep-alive. */
export function posFor(
  server: RunningMockPlatform,
  overrides: Partial<PosClientOptions> = {},
): { pos: PosClient; close(): Promise<void> } {
  const device = server.platform.demo?.devices.find((d) => d.id === 'pos-01');
  if (device === undefined) throw new Error('no demo pos-01');
  const dispatcher = new Agent({ keepAliveTimeout: 10, keepAliveMaxTimeout: 10 });
  const pos = createPosClient({
    baseUrl: server.url,
    deviceId: 'pos-01',
    merchantId: 'm-canteen-s',
    privateKey: device.privateJwk,
    dispatcher,
    now: () => server.platform.clock.now(),
    retryBaseMs: 20,
    retryMaxMs: 100,
    pollSchedule: [0.2, 0.4, 0.8],
    ...overrides,
  });
  return {
    pos,
    async close() {
      await pos.close();
      await dispatcher.close();
    },
  };
}

/** The wallet balance of a person, read directly from the platform (fen). */
export async function balanceOf(server: RunningMockPlatform, personId: string): Promise<number> {
  const r = await server.platform.invoke('getWallet', { params: { person_id: personId } }, DEMO_OPERATOR);
  return (r.body as { balance: number }).balance;
}

/** How many orders the platform holds under an out_trade_no. */
export function ordersWith(server: RunningMockPlatform, outTradeNo: string): number {
  return (
    server.platform.state.db
      .prepare('SELECT COUNT(*) AS n FROM orders WHERE out_trade_no = ?')
      .get(outTradeNo) as {
      n: number;
    }
  ).n;
}
