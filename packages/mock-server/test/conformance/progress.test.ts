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
});
