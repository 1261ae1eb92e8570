#!/usr/bin/env node
/**
 * `campus-card-mock`: runs the mock platform with demo data.
 *
 * Usage: `campus-card-mock [--port 8080] [--host 127.0.0.1] [--db path|:memory:] [--record file.jsonl] [--no-demo] [--no-admin]`.
 * `PORT` is honoured (default 8080); `--port` wins.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { DEFAULT_DB_PATH } from './platform.js';
import { startMockPlatform } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    db: { type: 'string' },
    record: { type: 'string' },
    seed: { type: 'string' },
    'no-demo': { type: 'boolean' },
    'no-admin': { type: 'boolean' },
  },
});

const port = Number.parseInt(values.port ?? process.env.PORT ?? '8080', 10);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`invalid port ${values.port ?? process.env.PORT}`);
  process.exit(2);
}
const server = await startMockPlatform({
  port,
  host: values.host ?? '127.0.0.1',
  dbPath: values.db ?? DEFAULT_DB_PATH,
  demo: values['no-demo'] !== true,
  admin: values['no-admin'] !== true,
  seed: Number.parseInt(values.seed ?? '1', 10),
  ...(values.record === undefined ? {} : { recordFile: values.record }),
});
const demo = server.platform.demo;
console.log(`campus-card mock platform listening on ${server.url}`);
console.log(`  OpenAPI:  ${server.url}/openapi.json`);
console.log(`  health:   ${server.url}/health`);
console.log(`  database: ${values.db ?? DEFAULT_DB_PATH}`);
if (demo !== undefined) {
  console.log('\nDemo credentials (sign requests with RFC 9421, keyid = the id):');
  console.log(
    JSON.stringify(
      { school_id: demo.schoolId, operator: demo.operator, devices: demo.devices, merchants: demo.merchants },
      null,
      2,
    ),
  );
  console.log('\nDemo cards (phone keys make presentations):');
  for (const c of demo.cards) {
    console.log(
      JSON.stringify({
        card_id: c.cardId,
        person_id: c.personId,
        role: c.role,
        physical_uid_hex: c.physicalUidHex,
        holder_private_jwk: c.holderPrivateJwk,
      }),
    );
  }
}
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
