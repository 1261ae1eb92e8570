/**
 * The verifier test plan: every core vector, then the stateful sequences, through the harness
 * protocol.
 *
 * @module
 */
import type { ExpectedFailure, PlanResult, ProgressEvent } from '../model.js';
import { type PlanDef, runPlan, selectModules } from '../runner.js';
import { authoritiesModule, singleRootModule } from './authorities.js';
import { HarnessClient } from './harness-client.js';
import type { HarnessConnection } from './protocol.js';
import {
  antiPassbackModule,
  replayModule,
  revocationModule,
  rollbackModule,
  stalenessModule,
  timeFloorModule,
} from './stateful.js';
import { defaultVectorsDir, readVectors, type Vector, vectorModules } from './vectors.js';

/** The verifier plan over `vectors`. */
export function verifierPlan(vectors: readonly Vector[]): PlanDef<HarnessClient> {
  return {
    id: 'verifier',
    title: 'Offline verifier (token format, reader behaviour, issue 7 field hardening)',
    modules: [
      ...vectorModules(vectors),
      replayModule(vectors),
      antiPassbackModule,
      rollbackModule,
      authoritiesModule,
      singleRootModule,
      revocationModule,
      stalenessModule,
      timeFloorModule,
    ],
  };
}

/**
 * The verifier plan over the vectors of `vectorsDir` (default: `@campus-card/core`'s `vectors/`,
 * present in this repository).
 *
 * @throws `Error` when no vectors folder is found.
 */
export function loadVerifierPlan(vectorsDir?: string): PlanDef<HarnessClient> {
  const dir = vectorsDir ?? defaultVectorsDir();
  if (dir === undefined) {
    throw new Error('the @campus-card/core vectors folder was not found: pass vectorsDir (--vectors <dir>)');
  }
  return verifierPlan(readVectors(dir));
}

/** Options of {@link runVerifierPlan}. */
export interface RunVerifierPlanOptions {
  /** The vectors folder. Default: `@campus-card/core`'s `vectors/` (present in this repository). */
  readonly vectorsDir?: string;
  readonly expectedFailures?: readonly ExpectedFailure[];
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Run only these modules (every id must name a module of the plan). */
  readonly modules?: readonly string[];
}

/**
 * Runs the verifier plan against a harness connection (which it does not close).
 *
 * @throws `Error` when no vectors folder is found; `UnknownModuleError` (before the harness
 * is sent anything) when `options.modules` names a module the plan does not have.
 */
export async function runVerifierPlan(
  connection: HarnessConnection,
  options: RunVerifierPlanOptions = {},
): Promise<PlanResult> {
  const plan = loadVerifierPlan(options.vectorsDir);
  selectModules(plan, options.modules);
  const client = new HarnessClient(connection);
  await client.hello();
  return runPlan(plan, client, {
    targetLabel: connection.label,
    product: client.product,
    ...(options.expectedFailures === undefined ? {} : { expectedFailures: options.expectedFailures }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.modules === undefined ? {} : { modules: options.modules }),
  });
}
