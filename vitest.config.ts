import { availableParallelism } from 'node:os';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

const packages = ['core', 'verifier', 'pos-client', 'gate-client', 'mock-server'];

// Tests run against src/: node-environment tests resolve through Vite's SSR environment,
// so the project's source condition goes in ssr.resolve.conditions.
export default defineConfig({
  ssr: { resolve: { conditions: ['@campus-card/source', ...defaultServerConditions] } },
  test: {
    // every core: vitest's default in a run is one fewer than the CPUs (one worker on a 2-core
    // machine), and many tests mostly wait on child processes, sockets and timers (on 2 cores:
    // 14 min with one worker, 10 min with two)
    maxWorkers: availableParallelism(),
    testTimeout: 20_000,
    // every mock platform a test starts checks its responses against the contract (a mismatch is a 500)
    env: { CAMPUS_CARD_CHECK_RESPONSES: '1' },
    hookTimeout: 60_000,
    projects: [
      ...packages.map((name) => ({
        extends: true as const,
        test: { name, root: `./packages/${name}`, include: ['test/**/*.test.ts'] },
      })),
      { extends: true as const, test: { name: 'repo', root: './.scripts', include: ['test/**/*.test.ts'] } },
    ],
  },
});
