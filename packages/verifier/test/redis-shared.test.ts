import { beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from '../src/index.js';
import { nodeBackend } from '../src/node.js';
import { createRedisReplayStore } from '../src/redis.js';
import { type Campus, makeCampus, T0 } from './helpers/fixtures.js';

const url = process.env.CAMPUS_CARD_REDIS_URL;
const skip = !url && !process.env.CI;

describe.skipIf(skip)('two readers sharing one Redis replay store', () => {
  let campus: Campus;
  beforeAll(async () => {
    campus = await makeCampus();
  });

  it('accept a code only once', async () => {
    if (!url) throw new Error('CAMPUS_CARD_REDIS_URL is required in CI');
    const { Redis } = await import('ioredis');
    // one connection per reader, as two lanes would have: they share only the server
    const options = {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 3000,
      retryStrategy: () => null,
    };
    const clients = [new Redis(url, options), new Redis(url, options)];
    for (const c of clients) c.on('error', () => {});
    const prefix = `cc-test-${Date.now()}-${Math.random().toString(36).slice(2)}:`;
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const [c0, c1] = clients as [InstanceType<typeof Redis>, InstanceType<typeof Redis>];
      expect(await c0.client('ID')).not.toBe(await c1.client('ID'));
      const readers = await Promise.all(
        clients.map(async (client) => {
          const v = createVerifier({
            rootKeys: [campus.root.publicKey],
            backend: nodeBackend,
            replayStore: createRedisReplayStore({ client, prefix }),
          });
          v.loadTrustList(await campus.trustList(1, T0 - 3600), { now: T0 });
          v.loadStatusList(await campus.statusList(1, T0 - 600), { now: T0 });
          return v;
        }),
      );
      const qr = await campus.code('2024010001', T0);
      const [a, b] = await Promise.all(
        readers.map((v, i) => v.verify(qr, { now: T0, reader: { id: `lane-${i}` } })),
      );
      expect([a?.accepted, b?.accepted].filter(Boolean)).toHaveLength(1);
      const loser = a?.accepted ? b : a;
      expect(loser).toMatchObject({ accepted: false, reason: 'REPLAYED' });
      // another code is accepted by the second lane
      const qr2 = await campus.code('2024010001', T0 + 1);
      expect((await readers[1]?.verify(qr2, { now: T0 + 1, reader: { id: 'lane-1' } }))?.accepted).toBe(true);
      expect(await readers[0]?.verify(qr2, { now: T0 + 2, reader: { id: 'lane-0' } })).toMatchObject({
        accepted: false,
        reason: 'REPLAYED',
      });
      // the entries live on the server, one per accepted code
      expect(await c0.keys(`${prefix}*`)).toHaveLength(2);
    } finally {
      const keys = (await clients[0]?.keys(`${prefix}*`).catch(() => [])) ?? [];
      if (keys.length > 0) await clients[0]?.del(...keys);
      for (const c of clients) c.disconnect();
    }
  });
});
