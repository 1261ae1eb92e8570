// Types for scripts/lib/bundle.mjs, so that the TypeScript tests can import it.

/** Bundles `entry` (a .ts file) into `outfile` (an .mjs file) for Node; throws on a build error. */
export function bundleForNode(entry: string, outfile: string): Promise<void>;
