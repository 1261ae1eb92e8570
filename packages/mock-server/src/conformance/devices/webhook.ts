/**
 * The webhook receiver plan: the suite, playing the platform, sends pushes to the vendor's
 * receiver, correctly signed and not, and checks that only the good ones are taken.
 *
 * The target is a command, launched with `PLATFORM_URL` (the mock platform: the receiver fetches
 * the push-signing keys from `GET /v1/platform/keys`), `PORT` (where to listen) and
 * `SCENARIO=webhook`; it must accept `POST /webhook` on 127.0.0.1:`PORT`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { importSigningKey, signPush } from '@campus-card/core/http';
import { platformKey } from '../../domains/webhooks.js';
import type { RunningMockPlatform } from '../../server.js';
import { failed, passed, type Verdict, warning } from '../model.js';
import type { ModuleDef } from '../runner.js';

/** What the webhook modules drive. */
export interface WebhookTarget {
  readonly platform: RunningMockPlatform;
  /** The receiver's push URL. */
  readonly url: string;
}

const SPEC = [
  'api: pushes are RFC 9421 signatures over @method, @authority, @path, @query, content-digest and push-id (core/http push)',
];

interface PushVariant {
  readonly body?: string;
  readonly sentBody?: string;
  readonly created?: number;
  readonly pushId?: string;
  readonly signed?: boolean;
  readonly flipSignature?: boolean;
  readonly otherKey?: boolean;
  /** Sign for this URL instead of the receiver's (a push another receiver got, replayed here). */
  readonly signedFor?: string;
}

async function sendPush(t: WebhookTarget, v: PushVariant = {}): Promise<number> {
  const state = t.platform.platform.state;
  const key = platformKey(state);
  const body =
    v.body ??
    JSON.stringify({ type: 'payment.succeeded', order_id: `ord_${randomBytes(4).toString('hex')}` });
  const signing = v.otherKey
    ? importSigningKey(exportJwk(generateKeyPair('EdDSA').privateKey, { includePrivate: true }))
    : key.signing;
  let headers: Record<string, string> = {
    'content-type': 'application/json',
    'push-event-type': 'payment.succeeded',
  };
  if (v.signed !== false) {
    const h = signPush({
      url: v.signedFor ?? t.url,
      body: new TextEncoder().encode(body),
      pushId: v.pushId ?? `push_${randomBytes(6).toString('hex')}`,
      keyId: key.kid,
      key: signing,
      created: v.created ?? Math.floor(Date.now() / 1000),
      nonce: randomBytes(12).toString('base64url'),
    });
    headers = { ...headers, ...(h as unknown as Record<string, string>) };
    if (v.flipSignature) {
      // `sig1=:base64:` → change one base64 character of the signature
      headers.signature =
        headers.signature?.replace(/:(.)/, (_m, c: string) => `:${c === 'A' ? 'B' : 'A'}`) ?? '';
    }
  } else {
    headers['push-id'] = v.pushId ?? `push_${randomBytes(6).toString('hex')}`;
  }
  const res = await fetch(t.url, {
    method: 'POST',
    headers,
    body: v.sentBody ?? body,
    signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
}

function refused(status: number, what: string): Verdict {
  if (status >= 200 && status < 300)
    return failed(`${what} was accepted (HTTP ${status}); it must be refused`);
  if (status === 401 || status === 403 || status === 400) return passed();
  return warning(
    `${what} answered HTTP ${status}; expected 400, 401 or 403 (a 5xx makes the platform retry)`,
  );
}

/** The push-signature module. */
export const pushSignatureModule: ModuleDef<WebhookTarget> = {
  id: 'push-signatures',
  title: 'Pushes are taken only when the platform signed them',
  async run(ctx, t) {
    const m = (id: string, title: string) => ({ id, title, spec: SPEC });
    await ctx.check(m('valid-push-accepted', 'A correctly signed push is accepted (2xx).'), async () => {
      const s = await sendPush(t);
      return s >= 200 && s < 300 ? passed() : failed(`a correctly signed push answered HTTP ${s}`);
    });
    await ctx.check(
      m('bad-signature-refused', 'A push whose signature bytes were altered is refused.'),
      async () => refused(await sendPush(t, { flipSignature: true }), 'a push with a bad signature'),
    );
    await ctx.check(m('unsigned-push-refused', 'A push without a signature is refused.'), async () =>
      refused(await sendPush(t, { signed: false }), 'an unsigned push'),
    );
    await ctx.check(
      m('tampered-body-refused', 'A push whose body changed after signing is refused (content-digest).'),
      async () =>
        refused(
          await sendPush(t, {
            body: '{"type":"payment.succeeded","amount":100}',
            sentBody: '{"type":"payment.succeeded","amount":999}',
          }),
          'a push with a tampered body',
        ),
    );
    await ctx.check(
      m('stale-push-refused', 'A push signed an hour ago (tolerance 300 s) is refused.'),
      async () =>
        refused(
          await sendPush(t, { created: Math.floor(Date.now() / 1000) - 3600 }),
          'a push signed an hour ago',
        ),
    );
    await ctx.check(
      m('wrong-key-refused', "A push signed by another key under the platform's key id is refused."),
      async () => refused(await sendPush(t, { otherKey: true }), 'a push signed by another key'),
    );
    await ctx.check(
      m(
        'other-receiver-push-refused',
        "A push signed for another receiver's URL (another authority, the same path) is refused: a receiver must not take a push replayed to it by the one it was meant for.",
      ),
      async () => {
        const other = new URL(t.url);
        other.hostname = 'other-receiver.example';
        return refused(
          await sendPush(t, { signedFor: other.href }),
          "a push signed for another receiver's URL",
        );
      },
    );
    await ctx.check(
      m(
        'redelivery-accepted',
        'A redelivery of a push (same push id, new signature) is acknowledged (2xx), not refused.',
      ),
      async () => {
        const pushId = `push_${randomBytes(6).toString('hex')}`;
        const body = JSON.stringify({ type: 'payment.succeeded', order_id: 'ord_redelivered' });
        const a = await sendPush(t, { pushId, body });
        const b = await sendPush(t, { pushId, body });
        if (a < 200 || a >= 300) return failed(`the first delivery answered HTTP ${a}`);
        return b >= 200 && b < 300
          ? passed()
          : warning(`the redelivery answered HTTP ${b}: the platform will keep retrying`);
      },
    );
  },
};
