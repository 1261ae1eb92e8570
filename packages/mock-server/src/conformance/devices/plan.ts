/**
 * Device plans (gate, POS, webhook receiver): the mock platform plays the platform and the suite
 * judges the device from the recorded interactions.
 *
 * @module
 */
import type { ExpectedFailure, PlanResult, ProgressEvent } from '../model.js';

/** The device plans. */
export const DEVICE_PLANS = ['gate', 'pos', 'webhook'] as const;

/** A device plan name. */
export type DevicePlanName = (typeof DEVICE_PLANS)[number];

/** Options of {@link runDevicePlan}. */
export interface RunDevicePlanOptions {
  readonly expectedFailures?: readonly ExpectedFailure[];
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly modules?: readonly string[];
}

/**
 * Runs a device plan against `target` (a command the suite launches with `PLATFORM_URL`,
 * `DEVICE_ID`, `DEVICE_KEY` and `SCENARIO`).
 *
 * @throws `Error` while the device plans are not available.
 */
export async function runDevicePlan(
  plan: DevicePlanName,
  _target: string,
  _options: RunDevicePlanOptions = {},
): Promise<PlanResult> {
  throw new Error(`the ${plan} plan is not available yet`);
}
