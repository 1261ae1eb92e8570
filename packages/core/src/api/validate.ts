/**
 * Compiled validators for the contract's schemas (TypeBox compiler; no global format registry).
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { isValidTimestamp, Timestamp } from './common.js';

/** One validation failure. */
export interface ValidationIssue {
  /** JSON pointer of the offending value. */
  readonly path: string;
  /** What is wrong. */
  readonly message: string;
}

/** The result of a validation. */
export type ValidationResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly issues: ValidationIssue[] };

/** Options of {@link compileValidator}. */
export interface CompileValidatorOptions {
  /**
   * Convert strings to the schema's primitive types first (for query strings and path
   * parameters), strictly: `limit=1.5` or `limit=1e30` stays text and fails as not an integer.
   * Default false: JSON bodies must carry the right types.
   */
  readonly coerce?: boolean;
}

const INTEGER_TEXT = /^-?\d+$/;
const NUMBER_TEXT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Converts one query-string or path text to the primitive its schema names, strictly: only a
 * plain decimal integer becomes an `integer` (`1.5`, `1e3`, `0x10`, `true` stay text and then
 * fail), only a decimal number a `number`, only `true`/`false` a `boolean`. TypeBox's
 * `Value.Convert` would truncate `1.5` and `1e30` to `1`.
 */
function convertText(schema: TSchema, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  switch ((schema as { type?: unknown }).type) {
    case 'integer': {
      const n = INTEGER_TEXT.test(value) ? Number(value) : Number.NaN;
      return Number.isSafeInteger(n) ? n : value;
    }
    case 'number':
      return NUMBER_TEXT.test(value) && Number.isFinite(Number(value)) ? Number(value) : value;
    case 'boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    default:
      return value;
  }
}

/**
 * Coerces the members of a query string or of path parameters (an object of texts) to their
 * schema's primitive types. Every own key is kept as an own property, `__proto__` included, so
 * that `additionalProperties: false` sees it.
 */
function coerceTexts(schema: TSchema, input: unknown): unknown {
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (props === undefined || input === null || typeof input !== 'object' || Array.isArray(input))
    return input;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const s = Object.hasOwn(props, key) ? props[key] : undefined;
    Object.defineProperty(out, key, {
      value: s === undefined ? value : convertText(s, value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Checks the values of a schema's `Timestamp` fields in a value that already passed the schema. */
type TimestampCheck = (value: unknown, path: string, issues: ValidationIssue[]) => void;

/**
 * A check of every {@link Timestamp} field under `schema` for a real calendar day (a pattern cannot
 * refuse `2026-02-30`), or `undefined` when the schema holds none. Follows objects, arrays, unions
 * (the branch the value matches) and intersections.
 */
function timestampCheck(schema: TSchema): TimestampCheck | undefined {
  const s = schema as {
    pattern?: string;
    type?: unknown;
    properties?: Record<string, TSchema>;
    items?: TSchema;
    anyOf?: TSchema[];
    allOf?: TSchema[];
  };
  if (s.type === 'string' && s.pattern === Timestamp.pattern) {
    return (value, path, issues) => {
      if (typeof value === 'string' && !isValidTimestamp(value)) {
        issues.push({ path, message: 'Expected a real date and time (that day does not exist)' });
      }
    };
  }
  if (s.properties !== undefined) {
    const fields: [string, TimestampCheck][] = [];
    for (const [key, sub] of Object.entries(s.properties)) {
      const check = timestampCheck(sub);
      if (check !== undefined) fields.push([key, check]);
    }
    if (fields.length === 0) return undefined;
    return (value, path, issues) => {
      if (value === null || typeof value !== 'object') return;
      for (const [key, check] of fields) {
        if (Object.hasOwn(value, key))
          check((value as Record<string, unknown>)[key], `${path}/${key}`, issues);
      }
    };
  }
  if (s.items !== undefined) {
    const check = timestampCheck(s.items);
    if (check === undefined) return undefined;
    return (value, path, issues) => {
      if (!Array.isArray(value)) return;
      for (let i = 0; i < value.length; i++) check(value[i], `${path}/${i}`, issues);
    };
  }
  const branches = s.anyOf ?? s.allOf;
  if (branches !== undefined) {
    const checks: [ReturnType<typeof TypeCompiler.Compile>, TimestampCheck][] = [];
    for (const b of branches) {
      const check = timestampCheck(b);
      if (check !== undefined) checks.push([TypeCompiler.Compile(b), check]);
    }
    if (checks.length === 0) return undefined;
    const all = s.anyOf === undefined;
    return (value, path, issues) => {
      for (const [compiled, check] of checks) {
        if (!compiled.Check(value)) continue;
        check(value, path, issues);
        if (!all) return; // a union: the first branch the value matches
      }
    };
  }
  return undefined;
}

/**
 * Compiles a schema into a validator function. Unknown fields fail when the schema says
 * `additionalProperties: false`; nothing is removed silently.
 *
 * @example
 * ```ts
 * const check = compileValidator(CreatePaymentBody);
 * const r = check({ out_trade_no: 'A1', amount: 100 });
 * ```
 */
export function compileValidator(
  schema: TSchema,
  options: CompileValidatorOptions = {},
): (value: unknown) => ValidationResult {
  const compiled = TypeCompiler.Compile(schema);
  const timestamps = timestampCheck(schema);
  return (input) => {
    const value = options.coerce === true ? coerceTexts(schema, input) : input;
    if (compiled.Check(value)) {
      if (timestamps === undefined) return { ok: true, value };
      const issues: ValidationIssue[] = [];
      timestamps(value, '', issues);
      return issues.length === 0 ? { ok: true, value } : { ok: false, issues: issues.slice(0, 10) };
    }
    const issues: ValidationIssue[] = [];
    for (const e of compiled.Errors(value)) {
      issues.push({ path: e.path === '' ? '/' : e.path, message: e.message });
      if (issues.length >= 10) break;
    }
    return { ok: false, issues };
  };
}
