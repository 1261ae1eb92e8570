/**
 * The route table: every HTTP route of the platform, as data.
 *
 * @module
 */
import { adminRoutes } from './admin.js';
import { attendanceRoutes } from './attendance.js';
import { cardRoutes } from './cards.js';
import type { RouteDef } from './common.js';
import { directoryRoutes } from './directory.js';
import { identityRoutes } from './identity.js';
import { incidentRoutes } from './incidents.js';
import { ledgerRoutes } from './ledger.js';
import { paymentRoutes } from './payments.js';
import { statementRoutes } from './statements.js';
import { webhookRoutes } from './webhooks.js';

/**
 * Every route of the API. The mock server registers and validates from it, clients take their
 * types from the schemas it names, and {@link buildOpenApiDocument} renders it.
 *
 * @example
 * ```ts
 * import { routes } from '@campus-card/core/api';
 * const pay = routes.find((r) => r.operationId === 'createPayment');
 * ```
 */
export const routes = [
  ...adminRoutes,
  ...directoryRoutes,
  ...cardRoutes,
  ...identityRoutes,
  ...paymentRoutes,
  ...statementRoutes,
  ...attendanceRoutes,
  ...webhookRoutes,
  ...ledgerRoutes,
  ...incidentRoutes,
] as const satisfies readonly RouteDef[];

/** Every operation id. */
export type OperationId = (typeof routes)[number]['operationId'];

/** The route of an operation id. */
export type RouteOf<Op extends OperationId> = Extract<(typeof routes)[number], { operationId: Op }>;

/**
 * Finds a route by operation id.
 *
 * @throws RangeError when there is no such operation.
 */
export function getRoute<Op extends OperationId>(operationId: Op): RouteOf<Op> {
  const r = routes.find((x) => x.operationId === operationId);
  if (r === undefined) throw new RangeError(`unknown operationId ${operationId}`);
  return r as RouteOf<Op>;
}

/**
 * Fills a path template: `fillPath('/v1/payments/{out_trade_no}', { out_trade_no: 'A 1' })` →
 * `/v1/payments/A%201`. Every segment is escaped with encodeURIComponent.
 */
export function fillPath(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(v);
  });
}
