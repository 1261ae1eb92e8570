import { describe, expect, it } from 'vitest';
import type { ConditionResult } from '../../src/conformance/model.js';
import { createProgressPrinter } from '../../src/conformance/progress.js';

describe('progress lines', () => {
  it("a product's message cannot rewrite or hide the line of its failure (control characters shown escaped)", () => {
    const text: string[] = [];
    const print = createProgressPrinter({ write: (s) => void text.push(s), isTTY: true });
    // a reason that returns to the start of the line, erases it and prints a pass in its place
    const failedCondition: ConditionResult = {
      id: 'second-scan-replayed',
      title: 't',
      spec: [],
      status: 'FAILED',
      message: 'accepted\r\x1b[2K  ok   replay\x9b2K\nnext line\u2028',
      durationMs: 1,
    };
    print({ type: 'plan-start', plan: 'verifier', modules: 1 });
    print({ type: 'module-start', plan: 'verifier', module: 'replay', index: 0 });
    print({ type: 'condition', plan: 'verifier', module: 'replay', result: failedCondition });
    print({
      type: 'module-end',
      plan: 'verifier',
      result: { id: 'replay', title: 't', status: 'FAILED', conditions: [failedCondition], durationMs: 1 },
    });
    const failure = text.find((t) => t.includes('FAILED second-scan-replayed'));
    expect(failure).toBe(
      '       FAILED second-scan-replayed: accepted\\r\\x1b[2K  ok   replay\\x9b2K\\nnext line\\u2028\n',
    );
  });

  it('counts read as English: one module, condition, warning or expected failure is singular', () => {
    const lines = (modules: number, conditions: number, warnings: number, expected: number) => {
      const text: string[] = [];
      const print = createProgressPrinter({ write: (s) => void text.push(s), isTTY: false });
      const condition: ConditionResult = { id: 'c', title: 't', spec: [], status: 'PASSED', durationMs: 1 };
      print({ type: 'plan-start', plan: 'webhook', modules });
      print({
        type: 'module-end',
        plan: 'webhook',
        result: {
          id: 'm',
          title: 't',
          status: 'PASSED',
          conditions: Array.from({ length: conditions }, () => condition),
          durationMs: 5,
        },
      });
      print({
        type: 'plan-end',
        result: {
          plan: 'webhook',
          title: 't',
          target: 'builtin',
          status: 'PASSED',
          counts: { PASSED: 1, FAILED: 0, WARNING: warnings, SKIPPED: 0, expectedFailures: expected },
          modules: [],
          startedAt: '2026-01-05T08:00:00Z',
          durationMs: 1500,
        },
      });
      return text.join('');
    };
    expect(lines(1, 1, 1, 1)).toBe(
      [
        'plan webhook: 1 module',
        '  ok   m (1 condition, 5 ms)',
        'plan webhook: PASSED (1 passed, 0 failed, 1 warning, 0 skipped, 1 expected failure) in 1.5 s',
        '',
      ].join('\n'),
    );
    expect(lines(2, 0, 0, 2)).toBe(
      [
        'plan webhook: 2 modules',
        '  ok   m (0 conditions, 5 ms)',
        'plan webhook: PASSED (1 passed, 0 failed, 0 warnings, 0 skipped, 2 expected failures) in 1.5 s',
        '',
      ].join('\n'),
    );
  });
});
