import { randomUUID } from 'node:crypto';
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk } from '@campus-card/core';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import { startMockPlatform } from '@campus-card/mock-server';

await using server = await startMockPlatform({ demo: true }); // a free port, :memory:
const demo = server.platform.demo;
const card = demo?.cards.find((c) => c.personId === 's-001'); // a "Demo cards" line of the CLI
const pos = demo?.devices.find((d) => d.id === 'pos-01');
const credential = card && fromBase64Url(card.credential);
if (card === undefined || pos === undefined || credential === undefined) throw new Error('no demo data');
const now = Math.floor(Date.now() / 1000);

// The phone: a QR code from the card's credential and phone key (printed by the CLI as
// `credential` and `holder_private_jwk`). A code is accepted once, up to 90 s after `t`.
const qr = encodeQr(
  await createPresentation({ credential, t: now }, importPrivateJwk(card.holderPrivateJwk)),
);

// The POS: the payment, signed with RFC 9421 (`keyid` = the device id).
const url = `${server.url}/v1/payments`;
const order = { out_trade_no: `DEMO-${randomUUID().slice(0, 8)}`, amount: 150, qr_text: qr };
const body = new TextEncoder().encode(JSON.stringify(order));
const headers = { 'content-type': 'application/json', 'idempotency-key': randomUUID() };
const signature = signRequest(
  { method: 'POST', url, headers, body },
  { keyId: pos.id, key: importSigningKey(pos.privateJwk), created: now, nonce: randomUUID() },
);
const res = await fetch(url, { method: 'POST', headers: { ...headers, ...signature }, body });
const paid = (await res.json()) as { status: string; amount: number };
console.log(res.status, paid.status, paid.amount); // 201 success 150
