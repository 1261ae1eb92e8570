/**
 * The HTTP API contract of the campus card platform, defined once as JSON Schema (TypeBox):
 * the mock server validates with it, the clients take their types from it, and
 * {@link buildOpenApiDocument} renders it as OpenAPI 3.1 (push events included), which
 * {@link renderApiReference} turns into the Markdown reference `docs/http-api.md`.
 *
 * @example
 * ```ts
 * import { routes, buildOpenApiDocument, renderApiReference, type Order } from '@campus-card/core/api';
 * ```
 *
 * @module
 */
export * from './api/admin.js';
export * from './api/attendance.js';
export * from './api/cards.js';
export * from './api/common.js';
export * from './api/directory.js';
export * from './api/identity.js';
export * from './api/incidents.js';
export * from './api/ledger.js';
export * from './api/openapi.js';
export * from './api/payments.js';
export * from './api/render-markdown.js';
export * from './api/routes.js';
export * from './api/statements.js';
export * from './api/validate.js';
export * from './api/webhooks.js';
