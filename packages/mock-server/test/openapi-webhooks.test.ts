// The `webhooks` section of the published OpenAPI document against real deliveries: a receiver
// subscribed on a running platform captures an attendance push, a payment push and a top-up push,
// and each is checked against what /openapi.json declares for its event type (headers, signature,
// payload).
import { compileValidator, WebhookEvents } from '@campus-card/core/api';
import { importVerifyKey, PUSH_COVERED_COMPONENTS, verifyPush } from '@campus-card/core/http';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { createClock, startMockPlatform } from '../src/index.js';
import { deviceSigner, json, operator, qrOf, signed, startReceiver, T0 } from './helpers.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: Json };

/**
 * A strict validator for the JSON Schema keywords the push payloads use. An unknown keyword
 * throws, so the check cannot pass by ignoring part of a schema.
 */
const ANNOTATIONS = new Set(['description', 'examples', 'default', 'title', '$id']);
function validate(schema: Schema, value: Json | undefined, path = ''): string[] {
  const errors: string[] = [];
  const fail = (m: string) => errors.push(`${path || '/'}: ${m}`);
  for (const key of Object.keys(schema)) {
    if (ANNOTATIONS.has(key)) continue;
    const k = schema[key];
    switch (key) {
      case 'type': {
        const t = k as string;
        const ok =
          t === 'null'
            ? value === null
            : t === 'array'
              ? Array.isArray(value)
              : t === 'object'
                ? typeof value === 'object' && value !== null && !Array.isArray(value)
                : t === 'integer'
                  ? Number.isInteger(value)
                  : typeof value === t;
        if (!ok) fail(`not ${t}`);
        break;
      }
      case 'const':
        if (JSON.stringify(value) !== JSON.stringify(k)) fail(`not ${JSON.stringify(k)}`);
        break;
      case 'anyOf':
        if (!(k as Schema[]).some((s) => validate(s, value, path).length === 0))
          fail('matches no anyOf member');
        break;
      case 'properties':
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          for (const [name, s] of Object.entries(k as Record<string, Schema>)) {
            if (name in value) errors.push(...validate(s, value[name], `${path}/${name}`));
          }
        }
        break;
      case 'required':
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          for (const name of k as string[]) if (!(name in value)) fail(`missing ${name}`);
        }
        break;
      case 'additionalProperties':
        if (k === false && typeof value === 'object' && value !== null && !Array.isArray(value)) {
          const known = Object.keys((schema.properties as Schema | undefined) ?? {});
          for (const name of Object.keys(value)) if (!known.includes(name)) fail(`unknown field ${name}`);
        } else if (k !== false) throw new Error(`validator: additionalProperties ${JSON.stringify(k)}`);
        break;
      case 'items':
        if (Array.isArray(value)) {
          for (const [i, v] of value.entries()) errors.push(...validate(k as Schema, v, `${path}/${i}`));
        }
        break;
      case 'minimum':
        if (typeof value === 'number' && value < (k as number)) fail(`< ${k}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && value > (k as number)) fail(`> ${k}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < (k as number)) fail(`shorter than ${k}`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > (k as number)) fail(`longer than ${k}`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(k as string, 'u').test(value))
          fail(`does not match ${k}`);
        break;
      case 'minItems':
        if (Array.isArray(value) && value.length < (k as number)) fail(`fewer than ${k} items`);
        break;
      case 'maxItems':
        if (Array.isArray(value) && value.length > (k as number)) fail(`more than ${k} items`);
        break;
      default:
        throw new Error(`validator: unsupported keyword ${key} at ${path || '/'}`);
    }
  }
  return errors;
}

/** Headers that name themselves as part of a signing scheme (RFC 9421, RFC 9530, Standard Webhooks, …). */
const SIGNING_HEADER = /^(push-|webhook-)|signature|digest/;

describe('OpenAPI webhooks against real deliveries', () => {
  it('declares exactly the headers, signature and payload the platform sends', async () => {
    const hook = await startReceiver();
    const received = hook.received;
    try {
      await using server = await startMockPlatform({
        demo: true,
        clock: createClock({ start: T0, frozen: true }),
        pushIntervalMs: 20,
      });
      const p = server.platform;

      // The contract as published, and the keys where it says the verification key is.
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Schema;
      const webhooks = doc.webhooks as Record<string, { post: Schema }>;
      const signing = doc['x-push-signing'] as Schema;
      const keysAt = signing.keys as { path: string; field: string };
      const keys = (await (await fetch(`${server.url}${keysAt.path}`)).json()) as Record<string, Json>;
      const jwks = keys[keysAt.field] as { kid: string }[];
      expect(jwks.length).toBeGreaterThan(0);
      expect(signing.retry_schedule_s, 'the documented retry schedule is the published one').toEqual(
        keys.retry_schedule_s,
      );
      expect(doc['x-push-retry-schedule-s']).toEqual(keys.retry_schedule_s);
      expect(signing.tolerance_s).toEqual(keys.tolerance_s);
      expect(signing.covered_components, 'documented components are what core/http signs').toEqual([
        ...PUSH_COVERED_COMPONENTS,
      ]);

      // A parent's endpoint gets the student's attendance, payments and top-ups.
      const sub = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
          url: `${hook.base}/hooks/parent?tenant=t1`,
          event_types: ['attendance.recorded', 'payment.succeeded', 'wallet.topped_up'],
          recipient_person_id: 'p-001',
        }),
      );
      expect(sub.statusCode, sub.body).toBe(201);
      const at = new Date(T0).toISOString();
      const up = await p.app.inject(
        signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
          events: [
            {
              seq: 1,
              kind: 'attendance',
              direction: 'in',
              occurred_at: at,
              qr_text: await qrOf(p, 's-001', 1),
              decision: 'allowed',
            },
          ],
        }),
      );
      expect(json(up), up.body).toMatchObject({ accepted: 1 });
      const pay = await p.app.inject(
        signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
          out_trade_no: 'OW-1',
          amount: 700,
          qr_text: await qrOf(p, 's-001', 2),
        }),
      );
      expect(json(pay), pay.body).toMatchObject({ status: 'success' });
      const topUp = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/wallets/s-001/top-ups', {
          out_trade_no: 'OW-TU-1',
          amount: 1500,
          channel: 'wechat',
        }),
      );
      expect(topUp.statusCode, topUp.body).toBe(201);

      for (let i = 0; i < 250 && received.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      const types = received.map((r) => (JSON.parse(r.body.toString()) as { type: string }).type).sort();
      expect(types).toEqual(['attendance.recorded', 'payment.succeeded', 'wallet.topped_up']);

      for (const push of received) {
        const body = JSON.parse(push.body.toString()) as { [k: string]: Json };
        const type = body.type as string;
        const op = webhooks[type]?.post;
        expect(op, `webhook ${type} is declared`).toBeDefined();
        expect(push.method.toLowerCase()).toBe('post');

        // Every header declared as required is sent.
        const declared = (
          (op!.parameters ?? []) as { name: string; in: string; required?: boolean }[]
        ).filter((x) => x.in === 'header');
        const declaredNames = new Set(declared.map((h) => h.name.toLowerCase()));
        for (const h of declared.filter((x) => x.required === true)) {
          expect(push.headers[h.name.toLowerCase()], `${type}: declared header ${h.name} is sent`).toBeTypeOf(
            'string',
          );
        }
        // No signing header is sent that the document does not declare (e.g. Standard Webhooks').
        const signingSent = Object.keys(push.headers).filter((h) => SIGNING_HEADER.test(h));
        expect(
          signingSent.filter((h) => !declaredNames.has(h)),
          `${type}: undeclared signing headers`,
        ).toEqual([]);
        expect(signingSent.sort()).toEqual([...(signing.headers as string[])].sort());

        // The headers carry what the document says they carry.
        expect(push.headers['push-id']).toBe(body.id);
        expect(push.headers['push-event-type']).toBe(type);
        expect(push.headers['content-type']).toMatch(/^application\/json/);
        const input = push.headers['signature-input'] as string;
        const label = signing.label as string;
        const m = new RegExp(`^${label}=\\(([^)]*)\\)(.*)$`).exec(input);
        expect(m, input).not.toBeNull();
        expect(m![1]!.split(' ').map((c) => JSON.parse(c) as string)).toEqual(signing.covered_components);
        const params = [...m![2]!.matchAll(/;([a-z]+)=/g)].map((x) => x[1]);
        expect(params).toEqual(signing.parameters);
        expect(input).toContain(`alg="${signing.alg as string}"`);
        expect(push.headers.signature).toMatch(new RegExp(`^${label}=:[A-Za-z0-9+/]+=*:$`));
        expect(push.headers['content-digest']).toMatch(
          new RegExp(`^${signing.content_digest as string}=:[A-Za-z0-9+/]+=*:$`),
        );

        // It verifies with the published key whose kid is the keyid.
        const keyId = /keyid="([^"]*)"/.exec(input)?.[1];
        const jwk = jwks.find((k) => k.kid === keyId);
        expect(jwk, `keyid ${keyId} is a published key`).toBeDefined();
        const v = await verifyPush(
          {
            method: push.method,
            url: `${hook.base}${push.path}`,
            headers: push.headers as Record<string, string>,
            body: new Uint8Array(push.body),
          },
          {
            keyLookup: (id) => (id === jwk!.kid ? importVerifyKey(jwk as never) : undefined),
            now: p.clock.now(),
            tolerance: signing.tolerance_s as number,
          },
        );
        expect(v.ok, JSON.stringify(v)).toBe(true);

        // The body validates against the declared schema (and the contract's TypeBox schema).
        const schema = ((op!.requestBody as Schema).content as Record<string, { schema: Schema }>)[
          'application/json'
        ]!.schema;
        expect(validate(schema, body), `${type} payload against /openapi.json`).toEqual([]);
        const check = compileValidator(WebhookEvents[type as keyof typeof WebhookEvents] as TSchema);
        expect(check(body).ok).toBe(true);
        // …and the validator is not vacuous.
        expect(validate(schema, { ...body, extra: 1 })).not.toEqual([]);
        expect(validate(schema, { ...body, type: 'other' })).not.toEqual([]);
        expect(validate(schema, { ...body, data: { ...(body.data as Schema), person_id: 7 } })).not.toEqual(
          [],
        );
      }
    } finally {
      await hook.close();
    }
  });
});
