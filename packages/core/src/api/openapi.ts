/**
 * Renders the route table as an OpenAPI 3.1 document, push events included.
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import type { RouteDef } from './common.js';
import { routes } from './routes.js';
import { WEBHOOK_RETRY_SCHEDULE_S, WebhookEvents } from './webhooks.js';

/** Options of {@link buildOpenApiDocument}. */
export interface BuildOpenApiOptions {
  /** Server URLs to list. */
  readonly servers?: readonly string[];
  /** Include the `/admin` routes (default true). */
  readonly includeAdmin?: boolean;
}

/** A JSON value (the OpenAPI document is plain JSON). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

function plain(schema: TSchema): JsonValue {
  // TypeBox adds symbol keys only; JSON round trip removes them and `undefined`s.
  return JSON.parse(JSON.stringify(schema)) as JsonValue;
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  304: 'Not modified (ETag matched)',
  400: 'Bad request: malformed JSON or a validation failure',
  401: 'Signature missing or invalid',
  403: 'Forbidden for this principal',
  404: 'Not found',
  409: 'Conflict, or the same Idempotency-Key is still in progress (retryable)',
  413: 'Body too large',
  415: 'Unsupported media type',
  422: 'Idempotency-Key reused with a different body',
  429: 'Rate limited (Retry-After)',
};

function paramList(where: 'path' | 'query', schema: TSchema | undefined): JsonValue[] {
  if (schema === undefined) return [];
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: plain(s),
  }));
}

function operation(r: RouteDef): JsonValue {
  const signed = Array.isArray(r.auth);
  const parameters: JsonValue[] = [...paramList('path', r.params), ...paramList('query', r.query)];
  if (r.method === 'POST' && r.auth !== 'admin') {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description: 'Unique per logical request; the first outcome is kept 24 h and replayed.',
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  if (r.etag === true) {
    parameters.push({ name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } });
  }
  const responses: Record<string, JsonValue> = {};
  for (const [status, schema] of Object.entries(r.responses)) {
    const code = Number(status);
    const description = STATUS_TEXT[code] ?? 'Response';
    if (code === 304) {
      responses[status] = { description };
    } else if ((schema as { 'x-binary'?: boolean })['x-binary'] === true) {
      responses[status] = {
        description,
        headers: { ETag: { schema: { type: 'string' } } },
        content: { 'application/cbor': { schema: { type: 'string', contentMediaType: 'application/cbor' } } },
      };
    } else if ((schema as { contentMediaType?: string }).contentMediaType === 'application/x-ndjson') {
      responses[status] = {
        description,
        content: { 'application/x-ndjson': { schema: { type: 'string' } } },
      };
    } else {
      const media = code >= 400 ? 'application/problem+json' : 'application/json';
      responses[status] = { description, content: { [media]: { schema: plain(schema) } } };
    }
  }
  const op: Record<string, JsonValue> = {
    operationId: r.operationId,
    summary: r.summary,
    tags: [r.tag],
    parameters,
    responses,
    security: signed ? [{ httpMessageSignature: [] }] : [],
  };
  if (r.description !== undefined) op.description = r.description;
  if (signed) op['x-principals'] = [...(r.auth as readonly string[])];
  if (r.capabilities !== undefined) op['x-capabilities'] = [...r.capabilities];
  if (r.body !== undefined) {
    op.requestBody = { required: true, content: { 'application/json': { schema: plain(r.body) } } };
  }
  return op;
}

/**
 * Builds the OpenAPI 3.1 document of the platform from the route table, with the push events
 * under `webhooks`.
 *
 * @example
 * ```ts
 * const doc = buildOpenApiDocument({ servers: ['http://localhost:8080'] });
 * ```
 */
export function buildOpenApiDocument(options: BuildOpenApiOptions = {}): { [k: string]: JsonValue } {
  const paths: Record<string, Record<string, JsonValue>> = {};
  for (const r of routes as readonly RouteDef[]) {
    if (options.includeAdmin === false && r.auth === 'admin') continue;
    const byMethod = paths[r.path] ?? {};
    byMethod[r.method.toLowerCase()] = operation(r);
    paths[r.path] = byMethod;
  }
  const webhooks: Record<string, JsonValue> = {};
  for (const [type, schema] of Object.entries(WebhookEvents)) {
    webhooks[type] = {
      post: {
        operationId: `push.${type}`,
        summary: `Push: ${type}`,
        description:
          'Signed as Standard Webhooks v1a (Ed25519): webhook-id, webhook-timestamp, webhook-signature over `id.timestamp.body`.',
        parameters: ['webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => ({
          name,
          in: 'header',
          required: true,
          schema: { type: 'string' },
        })),
        requestBody: { required: true, content: { 'application/json': { schema: plain(schema) } } },
        responses: { '2XX': { description: 'Accepted; anything else is retried' } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Campus card platform API',
      version: '1.0.0',
      description:
        'Identity, cards, payments, attendance for the campus cloud card. Money is integer fen; times are RFC 3339 UTC; errors are RFC 9457 problem+json with code, retryable, request_id.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: (options.servers ?? []).map((url) => ({ url })),
    paths,
    webhooks,
    components: {
      securitySchemes: {
        httpMessageSignature: {
          type: 'apiKey',
          in: 'header',
          name: 'Signature',
          description:
            'RFC 9421 HTTP Message Signatures with `Signature-Input` covering ("@method" "@path" "content-digest") and parameters created, nonce, keyid (the device or merchant id); ES256 or Ed25519; ±300 s; nonces single use. Bodies carry RFC 9530 Content-Digest (sha-256).',
        },
      },
    },
    'x-push-retry-schedule-s': [...WEBHOOK_RETRY_SCHEDULE_S],
  };
}
