/**
 * The terminal's own device resource: its merchant and the platform's offline caps of it.
 *
 * @module
 */
import { Device } from '@campus-card/core/api';
import type { Transport } from '@campus-card/core/transport';
import { passOptions, type RequestOptions } from './request-options.js';

/**
 * Reads the device `deviceId` (`GET /v1/devices/{device_id}`, signed by the device itself), checked
 * against the API contract: `merchant_id`, and the offline caps the platform applies to its
 * offline uploads, `offline_tx_cap` and `offline_device_cap` (integer fen) and
 * `offline_day_utc_offset` (`±HH:MM`), which configure the client's `OfflineCaps`.
 *
 * @throws `CampusCardApiError` subclasses from the transport: e.g. `ERR_NOT_FOUND` (404) for a
 *   device the platform does not know, `ERR_SIG_UNKNOWN_KEY` (401) for a key it does not know.
 */
export async function fetchDevice(
  transport: Transport,
  deviceId: string,
  options?: RequestOptions,
): Promise<Device> {
  const res = await transport.request<Device>({
    method: 'GET',
    path: `/v1/devices/${encodeURIComponent(deviceId)}`,
    schema: Device,
    ...passOptions(options),
  });
  return res.body;
}
