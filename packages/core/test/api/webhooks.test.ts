/**
 * The push contract (src/api/webhooks.ts): `wallet.topped_up` is an event type, subscribable,
 * whose payload is an envelope around the top-up's `Order`, published under the OpenAPI `webhooks`.
 */
import { describe, expect, it } from 'vitest';
import {
  buildOpenApiDocument,
  CreateSubscriptionBody,
  compileValidator,
  type Order,
  WEBHOOK_EVENT_TYPES,
  WebhookEvent,
  WebhookEvents,
} from '../../src/api.js';

const order: Order = {
  order_id: 'ord_1',
  out_trade_no: 'TU-1',
  kind: 'top_up',
  status: 'success',
  amount: 1234,
  refunded_amount: 0,
  person_id: 's-001',
  card_id: null,
  merchant_id: null,
  device_id: null,
  via: 'channel',
  fee_type: null,
  student_id: null,
  failure_code: null,
  description: 'top-up via wechat',
  created_at: '2026-01-05T08:00:00Z',
  updated_at: '2026-01-05T08:00:00Z',
  refunds: [],
};
const push = { id: 'evt_1', type: 'wallet.topped_up', created_at: '2026-01-05T08:00:00Z', data: order };

describe('wallet.topped_up', () => {
  it('is a push event type, and a subscription may ask for it', () => {
    expect(WEBHOOK_EVENT_TYPES).toContain('wallet.topped_up');
    const check = compileValidator(CreateSubscriptionBody);
    expect(check({ url: 'https://bank.example/hook', event_types: ['wallet.topped_up'] }).ok).toBe(true);
    // every type at once is within maxItems
    expect(check({ url: 'https://bank.example/hook', event_types: [...WEBHOOK_EVENT_TYPES] }).ok).toBe(true);
  });

  it('carries the top-up order, and nothing else', () => {
    const check = compileValidator(WebhookEvents['wallet.topped_up']);
    expect(check(push).ok).toBe(true);
    expect(compileValidator(WebhookEvent)(push).ok).toBe(true);
    expect(check({ ...push, type: 'payment.succeeded' }).ok).toBe(false);
    expect(check({ ...push, data: { order, refund: null } }).ok).toBe(false);
    expect(check({ ...push, data: { ...order, amount: '1234' } }).ok).toBe(false);
  });

  it('is published under the OpenAPI webhooks with the Order as data', () => {
    type Obj = { [k: string]: Obj };
    const doc = buildOpenApiDocument() as unknown as Obj;
    const post = doc.webhooks!['wallet.topped_up']!.post!;
    expect(post.operationId).toBe('push.wallet.topped_up');
    const props = post.requestBody!.content!['application/json']!.schema!.properties!;
    expect(props.type!.const).toBe('wallet.topped_up');
    expect(Object.keys(props.data!.properties!).sort()).toEqual(Object.keys(order).sort());
  });
});
