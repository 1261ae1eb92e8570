/**
 * Device plans: the mock platform plays the platform, the suite launches the vendor's device (a
 * command) with `PLATFORM_URL`, `PORT` / `DEVICE_ID` / `DEVICE_KEY` and `SCENARIO` in its
 * environment, and judges it from what it does.
 *
 * @module
 */
import { startMockPlatform } from '../../server.js';
import type { ExpectedFailure, PlanResult, ProgressEvent } from '../model.js';
import { type PlanDef, runPlan, selectModules } from '../runner.js';
import { makeDataDir, removeDataDir } from './data-dir.js';
import { eventDedupeModule, type GateTarget, revokedCardModule, trustListRotationModule } from './gate.js';
import { freePort, launchDevice, waitForHttp } from './launch.js';
import {
  offlineBatchModule,
  type PosTarget,
  scanToPayModule,
  timeoutPollModule,
  timeoutPollReverseModule,
} from './pos.js';
import { pushSignatureModule, type WebhookTarget } from './webhook.js';

/** The device plans. */
export const DEVICE_PLANS = ['gate', 'pos', 'webhook'] as const;

/** A device plan name. */
export type DevicePlanName = (typeof DEVICE_PLANS)[number];

const POS_PLAN: PlanDef<PosTarget> = {
  id: 'pos',
  title: 'POS device (payments)',
  modules: [scanToPayModule, timeoutPollModule, timeoutPollReverseModule, offlineBatchModule],
};
const GATE_PLAN: PlanDef<GateTarget> = {
  id: 'gate',
  title: 'Gate device (sync, offline decisions, event upload)',
  modules: [revokedCardModule, eventDedupeModule, trustListRotationModule],
};
const WEBHOOK_PLAN: PlanDef<WebhookTarget> = {
  id: 'webhook',
  title: 'Webhook receiver (signed pushes)',
  modules: [pushSignatureModule],
};
const PLANS = { pos: POS_PLAN, gate: GATE_PLAN, webhook: WEBHOOK_PLAN } as const;

/** The module ids of a device plan, in the order they run. */
export function devicePlanModules(plan: DevicePlanName): string[] {
  return PLANS[plan].modules.map((m) => m.id);
}

/** The default time a device may take for one command (gate) or one sale (POS), ms. */
const DEVICE_TIMEOUT_MS = 20_000;

/** Options of {@link runDevicePlan}. */
export interface RunDevicePlanOptions {
  readonly expectedFailures?: readonly ExpectedFailure[];
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Run only these modules (every id must be one of {@link devicePlanModules}). */
  readonly modules?: readonly string[];
  /**
   * How long the device may take, ms: per command to a gate (sync, scan, flush), per sale to a
   * POS (the device is stopped after it). Default 20 000.
   */
  readonly timeoutMs?: number;
}

/**
 * Runs a device plan against `target`, a command.
 *
 * @throws `UnknownModuleError` (before anything starts) when `options.modules` names a
 * module the plan does not have; `Error` when the device cannot be started.
 */
export async function runDevicePlan(
  plan: DevicePlanName,
  target: string,
  options: RunDevicePlanOptions = {},
): Promise<PlanResult> {
  selectModules<{ readonly id: string }>(PLANS[plan], options.modules);
  const common = {
    targetLabel: target,
    ...(options.expectedFailures === undefined ? {} : { expectedFailures: options.expectedFailures }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.modules === undefined ? {} : { modules: options.modules }),
  };
  if (plan === 'pos') {
    // A payment above the confirmation threshold waits for the holder an hour, or twice the sale's
    // time limit if that is longer: always past it, so in timeout-poll-reverse the device must give
    // up and reverse it (a long --timeout is the suite's setting, never the device's fault).
    const saleTimeoutMs = options.timeoutMs ?? DEVICE_TIMEOUT_MS;
    const platform = await startMockPlatform({
      demo: true,
      pushIntervalMs: 60_000,
      settings: { confirmDelayS: Math.max(3600, 2 * Math.ceil(saleTimeoutMs / 1000)) },
    });
    try {
      return await runPlan(POS_PLAN, { platform, command: target, saleTimeoutMs }, common);
    } finally {
      await platform.close();
    }
  }
  if (plan === 'gate') {
    // One gate, one storage for the whole run: the device is restarted for each module (as after
    // a power cycle) with the same DATA_DIR, so it keeps its event numbering, outbox and trust
    // material from one module to the next, as a real gate does.
    const platform = await startMockPlatform({ demo: true, pushIntervalMs: 60_000 });
    const dataDir = makeDataDir('conformance-gate-');
    try {
      return await runPlan(
        GATE_PLAN,
        { platform, command: target, dataDir, timeoutMs: options.timeoutMs ?? DEVICE_TIMEOUT_MS },
        common,
      );
    } finally {
      await platform.close();
      removeDataDir(dataDir);
    }
  }
  const platform = await startMockPlatform({ demo: true, pushIntervalMs: 60_000 });
  const port = await freePort();
  const device = launchDevice(target, {
    PLATFORM_URL: platform.url,
    PORT: String(port),
    SCENARIO: 'webhook',
  });
  try {
    const url = `http://127.0.0.1:${port}/webhook`;
    await waitForHttp(url, device);
    return await runPlan(WEBHOOK_PLAN, { platform, url }, common);
  } finally {
    await device.stop();
    await platform.close();
  }
}
