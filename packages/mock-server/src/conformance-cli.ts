#!/usr/bin/env node
/**
 * `campus-card-conformance`: the vendor conformance suite's command line (issue 6).
 *
 * ```sh
 * campus-card-conformance run --plan verifier --target "./my-harness" --out conformance-report
 * campus-card-conformance run --plan verifier --target http://127.0.0.1:7000/harness
 * campus-card-conformance run --plan verifier --target builtin   # the reference verifier
 * ```
 *
 * Exit codes ({@link EXIT_CODES}): 0 all conditions passed (warnings, skips and expected failures
 * allowed), 1 a condition failed (the product's fault), 2 a usage error (found before anything
 * starts), 3 the suite could not run (the harness or device did not start or could not be reached,
 * the mock platform did not start, the reports could not be written: no verdict; with `--out` the
 * reports say why, status `ERROR`); stopped by SIGINT, SIGTERM or SIGHUP: 130, 143 or 129, with
 * no report. Until suite version 0.2.0 "could not run" exited 2.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import type { DevicePlanName } from './conformance/devices/plan.js';
import { loadExpectedFailures } from './conformance/expected-failures.js';
import type { ExpectedFailure, PlanResult } from './conformance/model.js';
import { stopAllGroups } from './conformance/process-groups.js';
import { createProgressPrinter, type ProgressSink, printable } from './conformance/progress.js';
import { prepareReportsDir, writeReports } from './conformance/reports.js';
import {
  buildNotRunReport,
  buildReport,
  EXIT_CODES,
  exitCodeOf,
  selectModules,
  UnknownModuleError,
} from './conformance/runner.js';
import {
  connectHttpHarness,
  connectInProcessHarness,
  connectProcessHarness,
} from './conformance/verifier/connections.js';
import { loadVerifierPlan, runVerifierPlan } from './conformance/verifier/plan.js';
import { createReferenceHarness } from './conformance/verifier/reference-harness.js';
import { isMainModule } from './lib/is-main.js';

const USAGE = `usage: campus-card-conformance run --plan <verifier|gate|pos|webhook> --target <cmd|url|builtin>
         [--out <dir>] [--expected-failures <file>] [--vectors <dir>] [--module <id>]... [--timeout <ms>]
       campus-card-conformance --help

  --plan               the test plan (verifier: the harness protocol; see docs/guides/conformance.md)
  --target             verifier plan: a command speaking the harness protocol on stdin/stdout, an
                       http(s) URL taking it by POST, or "builtin" (the reference verifier);
                       gate, pos, webhook plans: the command that starts the device
  --out                write report.json, junit.xml and report.html there
  --expected-failures  JSON list of {plan, module, condition, reason}: known deviations
  --vectors            the token vectors folder, verifier plan only (default: @campus-card/core's vectors/)
  --module             run only this module (repeatable; an id the plan does not have is a
                       usage error, exit 2, naming the plan's modules)
  --timeout            how long the product may take, whole ms from 1 to 2147483647: per harness
                       request (verifier, default 10000), per command to a gate or per sale of a
                       POS (default 20000)

Exit codes:
  0  no condition FAILED (warnings, skips and expected failures allowed)
  1  a condition FAILED: the product did not conform
  2  usage error, found before anything starts: an unknown option, plan or module, a bad
     --timeout, an unreadable --expected-failures file or --vectors folder, an --out folder
     that takes no file
  3  the suite could not run, no verdict: the harness or device did not start or could not be
     reached, the mock platform did not start, the reports could not be written; said on
     stderr, and in the reports (status ERROR) with --out
  130, 143, 129  stopped by SIGINT, SIGTERM, SIGHUP: the devices are stopped, no report
`;

/** A --target that is an http(s) URL (the verifier plan's HTTP harness). */
const HTTP_TARGET = /^https?:\/\//i;

/** Set on SIGINT / SIGTERM: the run is being stopped, and writes no report. */
let interrupted = false;

/** Where the CLI writes (tests pass buffers). */
export interface CliIo {
  readonly stdout: ProgressSink;
  readonly stderr: ProgressSink;
}

/**
 * Runs the CLI with `argv` (without the node and script paths) and resolves to the exit code
 * ({@link EXIT_CODES}): 0 passed, 1 a condition FAILED, 2 a usage error, 3 the suite could not run
 * (said on `io.stderr`, and in the reports, status `ERROR`, with `--out`). A rejection is a fault
 * of the suite itself, which the command reports with exit code 3 as well.
 *
 * @example
 * ```ts
 * const code = await main(['run', '--plan', 'verifier', '--target', 'builtin', '--out', 'out']);
 * ```
 */
export async function main(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  let values: {
    plan?: string | undefined;
    target?: string | undefined;
    out?: string | undefined;
    'expected-failures'?: string | undefined;
    vectors?: string | undefined;
    module?: string[] | undefined;
    timeout?: string | undefined;
    help?: boolean | undefined;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        plan: { type: 'string' },
        target: { type: 'string' },
        out: { type: 'string' },
        'expected-failures': { type: 'string' },
        vectors: { type: 'string' },
        module: { type: 'string', multiple: true },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n${USAGE}`);
    return EXIT_CODES.usage;
  }
  if (values.help === true || positionals[0] === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (positionals[0] !== 'run' || values.plan === undefined || values.target === undefined) {
    // name what is wrong: a usage alone leaves a CI log reader to diff the command line against it
    const problem =
      positionals[0] === undefined
        ? 'the command "run" is missing'
        : positionals[0] !== 'run'
          ? `unknown command ${JSON.stringify(positionals[0])}: the command is "run"`
          : `${[values.plan === undefined ? '--plan' : '', values.target === undefined ? '--target' : '']
              .filter((o) => o !== '')
              .join(' and ')} missing`;
    io.stderr.write(`${printable(problem)}\n${USAGE}`);
    return EXIT_CODES.usage;
  }
  // a word left over (`--module replay rollback`, an unquoted `--target node harness.js`) would be
  // dropped silently, and the run check less than was asked
  if (positionals.length > 1) {
    io.stderr.write(
      `unexpected argument${positionals.length > 2 ? 's' : ''} ${positionals
        .slice(1)
        .map((a) => JSON.stringify(a))
        .join(', ')} (each option takes one value: repeat --module, quote a --target with spaces)\n${USAGE}`,
    );
    return EXIT_CODES.usage;
  }
  // decimal digits only: Number() also reads "0x10" (16 ms), "1e4", " 5" and "0b1"
  const timeoutMs =
    values.timeout === undefined
      ? undefined
      : /^\d+$/.test(values.timeout)
        ? Number(values.timeout)
        : Number.NaN;
  // at most 2^31 - 1: node's timers take a longer delay for 1 ms
  if (
    timeoutMs !== undefined &&
    !(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= 2_147_483_647)
  ) {
    io.stderr.write(
      '--timeout must be a whole number of milliseconds from 1 to 2147483647 (about 24.8 days)\n',
    );
    return EXIT_CODES.usage;
  }
  let expected: ExpectedFailure[] = [];
  if (values['expected-failures'] !== undefined) {
    try {
      expected = await loadExpectedFailures(values['expected-failures']);
    } catch (error) {
      io.stderr.write(`cannot read the expected-failures file: ${(error as Error).message}\n`);
      return EXIT_CODES.usage;
    }
  }
  const devicePlans = values.plan === 'verifier' ? undefined : await import('./conformance/devices/plan.js');
  if (devicePlans !== undefined && !(devicePlans.DEVICE_PLANS as readonly string[]).includes(values.plan)) {
    io.stderr.write(`unknown plan "${values.plan}"\n${USAGE}`);
    return EXIT_CODES.usage;
  }
  const planName = values.plan as 'verifier' | DevicePlanName;
  const target = values.target;
  const out = values.out;
  /**
   * The suite could not run (exit 3): says why on stderr, and with --out in the reports (status
   * ERROR, a JUnit <error>), so that the CI job's artifacts say it too.
   */
  const notRun = async (message: string): Promise<number> => {
    io.stderr.write(`the suite could not run: ${printable(message)}\n`);
    if (out !== undefined) {
      try {
        // the folder may not be prepared yet (the suite's vectors are read first): an earlier run's
        // reports are removed, so that a failed write leaves none behind either
        await prepareReportsDir(out);
        const files = await writeReports(buildNotRunReport(planName, target, message), out);
        io.stdout.write(`reports: ${files.join(', ')}\n`);
      } catch (error) {
        io.stderr.write(`cannot write the reports to ${out}: ${(error as Error).message}\n`);
      }
    }
    io.stdout.write('ERROR\n');
    return EXIT_CODES.notRun;
  };
  if (devicePlans !== undefined) {
    // a device plan launches its target through the shell: "builtin" or a URL would run as a
    // command that does not exist, and every condition would FAIL as if the device were at fault
    if (target === 'builtin' || HTTP_TARGET.test(target)) {
      io.stderr.write(
        `--target ${printable(JSON.stringify(target))}: the ${planName} plan launches the device, so its --target is the command that starts it (builtin and URLs are for the verifier plan)\n${USAGE}`,
      );
      return EXIT_CODES.usage;
    }
    if (values.vectors !== undefined) {
      io.stderr.write(`--vectors is for the verifier plan: the ${planName} plan takes no vectors\n${USAGE}`);
      return EXIT_CODES.usage;
    }
  }
  // Every --module must name a module of the plan: checked before any harness or device starts,
  // since running the others (or nothing) would report a plan that checked nothing as passed.
  try {
    selectModules(
      devicePlans === undefined
        ? loadVerifierPlan(values.vectors)
        : {
            id: planName,
            modules: devicePlans.devicePlanModules(planName as DevicePlanName).map((id) => ({ id })),
          },
      values.module,
    );
  } catch (error) {
    if (error instanceof UnknownModuleError) {
      io.stderr.write(`${error.message}\n${USAGE}`);
      return EXIT_CODES.usage;
    }
    // a --vectors folder that holds no vector, or a file that is not one: the argument is wrong
    if (values.vectors !== undefined) {
      io.stderr.write(`--vectors ${values.vectors}: ${printable((error as Error).message)}\n`);
      return EXIT_CODES.usage;
    }
    // the suite's own vectors (@campus-card/core's) not found, or unreadable: an installation fault
    return notRun((error as Error).message);
  }
  if (out !== undefined) {
    try {
      await prepareReportsDir(out);
    } catch (error) {
      io.stderr.write(`cannot write the reports to ${out}: ${(error as Error).message}\n`);
      return EXIT_CODES.usage;
    }
  }
  const onProgress = createProgressPrinter(io.stderr);
  let plan: PlanResult;
  try {
    if (devicePlans === undefined) {
      const connection =
        target === 'builtin'
          ? connectInProcessHarness(createReferenceHarness())
          : HTTP_TARGET.test(target)
            ? connectHttpHarness(target, timeoutMs === undefined ? {} : { timeoutMs })
            : connectProcessHarness(target, timeoutMs === undefined ? {} : { timeoutMs });
      try {
        plan = await runVerifierPlan(connection, {
          expectedFailures: expected,
          onProgress,
          ...(values.vectors === undefined ? {} : { vectorsDir: values.vectors }),
          ...(values.module === undefined ? {} : { modules: values.module }),
        });
      } finally {
        await connection.close();
      }
    } else {
      plan = await devicePlans.runDevicePlan(planName as DevicePlanName, target, {
        expectedFailures: expected,
        onProgress,
        ...(values.module === undefined ? {} : { modules: values.module }),
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      });
    }
  } catch (error) {
    // stopped by a signal: the process exits 128 + its number, with no report
    if (interrupted) return EXIT_CODES.notRun;
    // the harness or device did not start or could not be reached before the first condition, the
    // mock platform did not start: no verdict on the product
    return notRun((error as Error).message);
  }
  // interrupted: the devices were stopped under the run, whose verdicts are not the product's (the
  // process exits 128 + the signal's number, with no report)
  if (interrupted) return EXIT_CODES.notRun;
  const report = buildReport([plan], expected);
  for (const e of report.unusedExpectedFailures) {
    io.stderr.write(
      `note: expected failure ${e.plan}/${e.module}/${e.condition} matched no failed condition\n`,
    );
  }
  if (out !== undefined) {
    try {
      const files = await writeReports(report, out);
      io.stdout.write(`reports: ${files.join(', ')}\n`);
    } catch (error) {
      // the verdict is on stdout, but the run did not produce what was asked of it
      io.stderr.write(`cannot write the reports to ${out}: ${(error as Error).message}\n`);
      io.stdout.write(`${report.status}\n`);
      return EXIT_CODES.notRun;
    }
  }
  io.stdout.write(`${report.status}\n`);
  return exitCodeOf(report);
}

if (isMainModule(import.meta.url)) {
  // Ctrl-C, a CI job cancelled, or the terminal or SSH session gone (SIGHUP): stop the process
  // groups of the devices under test (each runs in a session and group of its own, out of reach of
  // the terminal's SIGINT and SIGHUP; SIGTERM, then SIGKILL to what still runs after 2 s) instead
  // of leaving them running on their ports, then leave (the exit hooks remove the temporary data
  // directories). A second signal leaves at once (the exit hook still sends SIGTERM). Unhandled,
  // SIGHUP would end the suite at once, with no exit hook: devices and data left behind.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      interrupted = true;
      if (signal === 'SIGHUP') {
        // the terminal is gone: a write to it fails (EIO), which must not end the suite before the
        // devices are stopped
        for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
      }
      process.stderr.write(`\n${signal}: stopping the devices under test\n`);
      process.once(signal, () => process.exit(code));
      void stopAllGroups().finally(() => process.exit(code));
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // a fault of the suite itself: no verdict on the product
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT_CODES.notRun;
    },
  );
}
