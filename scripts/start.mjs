#!/usr/bin/env node
// `npm start`: runs the mock platform with demo data once packages/mock-server exists.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../packages/mock-server/src/cli.ts', import.meta.url));
if (!existsSync(cli)) {
  console.log('The mock platform (packages/mock-server) is not built yet; `npm start` will run it once it exists.');
  process.exit(0);
}
