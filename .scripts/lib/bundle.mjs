// Bundles a TypeScript entry for plain Node 20 (which cannot run .ts): used by run-bench and start.
//
// - `@campus-card/*` and relative imports are bundled from src/ (the `@campus-card/source`
//   export condition), so no build is needed first.
// - Every other bare import (third-party packages, node builtins) stays external, so native
//   modules (better-sqlite3, cbor-extract) load as usual. It is resolved by esbuild from the
//   importing file and emitted as an absolute path, so a dependency nested under another
//   workspace package's node_modules is still found when the bundle runs from a .tmp folder.
import { build } from 'esbuild';

/** esbuild plugin: keeps third-party packages external; bundles @campus-card/* and relative files. */
export const externalThirdParty = {
  name: 'external-third-party',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@campus-card/')) return undefined; // bundle workspace source
      if (args.pluginData?.fromExternalPlugin) return undefined; // our own resolve call below
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: { fromExternalPlugin: true },
      });
      // Builtins without the node: prefix and anything esbuild cannot resolve stay bare.
      if (resolved.errors.length > 0 || !resolved.path || resolved.external) {
        return { path: args.path, external: true };
      }
      return { path: resolved.path, external: true };
    });
  },
};

/** Bundles `entry` (a .ts file) into `outfile` (an .mjs file); throws on a build error. */
export async function bundleForNode(entry, outfile) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@campus-card/source'],
    sourcemap: 'inline',
    logLevel: 'warning',
    plugins: [externalThirdParty],
  });
}
