import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'node',
  // keep `node:` in imports of Node builtins, as the source writes them (tsup 8 strips it by default)
  removeNodeProtocol: false,
  outDir: 'dist',
});
