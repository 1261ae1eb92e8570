/**
 * Compiled validators for the contract's schemas (TypeBox compiler; no global format registry).
 *
 * String lengths (`minLength`, `maxLength`) are counted in Unicode code points, as JSON Schema
 * 2020-12 says and as ajv and the clients generated from `/openapi.json` count them, not in the
 * UTF-16 code units TypeBox compares: `'𠀀'` is one character. `pattern` is TypeBox's (a
 * non-`u` RegExp); the contract's patterns are ASCII-only, where that makes no difference.
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { codePointLength as countCodePoints } from '../lib/fields.js';
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

type Compiled = ReturnType<typeof TypeCompiler.Compile>;

/** The part of a schema that the walkers below read. */
interface SchemaView {
  readonly type?: unknown;
  readonly pattern?: string;
  readonly minLength?: unknown;
  readonly maxLength?: unknown;
  readonly properties?: Record<string, TSchema>;
  readonly patternProperties?: Record<string, TSchema>;
  readonly additionalProperties?: unknown;
  readonly items?: TSchema | TSchema[];
  readonly anyOf?: TSchema[];
  readonly allOf?: TSchema[];
}

const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

/**
 * The number of Unicode code points of `s` (a lone surrogate counts one, as JSON Schema
 * implementations in JavaScript count it).
 */
function codePointLength(s: string): number {
  // no pair without a high surrogate (and V8 answers at once for a one-byte string)
  return HIGH_SURROGATE.test(s) ? countCodePoints(s) : s.length;
}

/** The length bounds of a string schema, or `undefined` for any other schema. */
function lengthBounds(schema: TSchema): { min: number; max: number } | undefined {
  const s = schema as SchemaView;
  if (s.type !== 'string') return undefined;
  const min = typeof s.minLength === 'number' ? s.minLength : undefined;
  const max = typeof s.maxLength === 'number' ? s.maxLength : undefined;
  if (min === undefined && max === undefined) return undefined;
  return { min: min ?? 0, max: max ?? Number.POSITIVE_INFINITY };
}

/**
 * A copy of `schema` (symbol keys such as TypeBox's `Kind` kept) whose string bounds hold in UTF-16
 * code units every string whose code points fit the original ones: `maxLength` doubled (a code
 * point is at most two units), `minLength` halved and rounded up. Compiled, it refuses only what
 * the original refuses in code points too; what it lets through still needs {@link lengthWalker}.
 */
function loosen(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(loosen);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<PropertyKey, unknown> = {};
  for (const key of Reflect.ownKeys(schema)) out[key] = loosen((schema as Record<PropertyKey, unknown>)[key]);
  if (out.type === 'string') {
    if (typeof out.maxLength === 'number') out.maxLength = out.maxLength * 2;
    if (typeof out.minLength === 'number') out.minLength = Math.ceil(out.minLength / 2);
  }
  return out;
}

/**
 * Checks the code-point length bounds of the strings under a schema: returns whether they all
 * hold. Without `issues` it stops at the first violation and builds no paths; with them it reports
 * every violation, with TypeBox's wording, or with `missedOnly` only those TypeBox's UTF-16 errors
 * miss (a string too short in code points but long enough in units).
 */
type LengthWalker = (
  value: unknown,
  path: string,
  issues: ValidationIssue[] | undefined,
  missedOnly: boolean,
) => boolean;

/** What {@link lengthWalker} shares while it builds. */
interface WalkContext {
  /** For each union with bounded strings under it: whether a value matches one branch exactly. */
  readonly unions: Map<object, (value: unknown) => boolean>;
  /** Memoised walkers: full, then min-only. */
  readonly walkers: readonly [Map<object, LengthWalker | undefined>, Map<object, LengthWalker | undefined>];
}

function stringWalker(min: number, max: number): LengthWalker {
  // a string of n units has between ceil(n/2) and n code points: n >= 2*min - 1 guarantees min
  const sure = 2 * min - 1;
  return (value, path, issues, missedOnly) => {
    if (typeof value !== 'string') return true;
    const n = value.length;
    if (n <= max && n >= sure) return true; // the common path: no need to count
    // what TypeBox misses: a string long enough in units, too short in code points
    if (missedOnly && issues !== undefined && (n < min || n >= sure)) return n >= min && n <= max;
    const cp = codePointLength(value);
    const short = cp < min;
    const long = cp > max;
    if (issues !== undefined) {
      if (short && (!missedOnly || n >= min)) {
        issues.push({ path, message: `Expected string length greater or equal to ${min}` });
      }
      if (long && !missedOnly) {
        issues.push({ path, message: `Expected string length less or equal to ${max}` });
      }
    }
    return !short && !long;
  };
}

/**
 * The walker of the length bounds under `schema`, or `undefined` when it has none that matters:
 * with `minOnly`, only strings with `minLength >= 2` matter (after TypeBox's UTF-16 check passed,
 * only those can still be wrong). Follows objects (properties, pattern and additional properties),
 * arrays and tuples, unions (some branch must match exactly) and intersections.
 */
function lengthWalker(schema: TSchema, minOnly: boolean, ctx: WalkContext): LengthWalker | undefined {
  const memo = ctx.walkers[minOnly ? 1 : 0];
  if (memo.has(schema)) return memo.get(schema);
  const built = buildWalker(schema, minOnly, ctx);
  memo.set(schema, built);
  return built;
}

function buildWalker(schema: TSchema, minOnly: boolean, ctx: WalkContext): LengthWalker | undefined {
  const s = schema as SchemaView;
  if (s === null || typeof s !== 'object') return undefined;
  const bounds = lengthBounds(schema);
  if (bounds !== undefined) {
    return minOnly && bounds.min < 2 ? undefined : stringWalker(bounds.min, bounds.max);
  }
  if (s.anyOf !== undefined) {
    if (s.anyOf.every((b) => lengthWalker(b, minOnly, ctx) === undefined)) return undefined;
    const branches = s.anyOf.map(
      (b) => [TypeCompiler.Compile(loosen(b) as TSchema), lengthWalker(b, false, ctx)] as const,
    );
    const matches = (value: unknown): boolean =>
      branches.some(
        ([loose, walk]) => loose.Check(value) && (walk === undefined || walk(value, '', undefined, false)),
      );
    ctx.unions.set(schema, matches);
    return (value, path, issues, missedOnly) => {
      if (matches(value)) return true;
      // no branch matches exactly: report the first one that matches but for lengths
      if (issues !== undefined) {
        for (const [loose, walk] of branches) {
          if (walk !== undefined && loose.Check(value)) return walk(value, path, issues, missedOnly);
        }
      }
      return false;
    };
  }
  const parts: LengthWalker[] = [];
  for (const b of s.allOf ?? []) {
    const walk = lengthWalker(b, minOnly, ctx);
    if (walk !== undefined) parts.push(walk);
  }
  const fields: [string, LengthWalker][] = [];
  for (const [key, sub] of Object.entries(s.properties ?? {})) {
    const walk = lengthWalker(sub, minOnly, ctx);
    if (walk !== undefined) fields.push([key, walk]);
  }
  const patterns: [RegExp, LengthWalker][] = [];
  for (const [pattern, sub] of Object.entries(s.patternProperties ?? {})) {
    const walk = lengthWalker(sub, minOnly, ctx);
    if (walk !== undefined) patterns.push([new RegExp(pattern), walk]);
  }
  const extra =
    typeof s.additionalProperties === 'object' && s.additionalProperties !== null
      ? lengthWalker(s.additionalProperties as TSchema, minOnly, ctx)
      : undefined;
  if (fields.length > 0 || patterns.length > 0 || extra !== undefined) {
    const known = new Set(Object.keys(s.properties ?? {}));
    const allPatterns = Object.keys(s.patternProperties ?? {}).map((p) => new RegExp(p));
    const rest = patterns.length > 0 || extra !== undefined;
    parts.push((value, path, issues, missedOnly) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return true;
      const record = value as Record<string, unknown>;
      let ok = true;
      for (const [key, walk] of fields) {
        if (!Object.hasOwn(record, key)) continue;
        if (!walk(record[key], issues === undefined ? '' : `${path}/${key}`, issues, missedOnly)) {
          if (issues === undefined) return false;
          ok = false;
        }
      }
      if (!rest) return ok;
      for (const key of Object.keys(record)) {
        for (const [re, walk] of patterns) {
          if (re.test(key) && !walk(record[key], `${path}/${key}`, issues, missedOnly)) {
            if (issues === undefined) return false;
            ok = false;
          }
        }
        if (
          extra !== undefined &&
          !known.has(key) &&
          !allPatterns.some((re) => re.test(key)) &&
          !extra(record[key], `${path}/${key}`, issues, missedOnly)
        ) {
          if (issues === undefined) return false;
          ok = false;
        }
      }
      return ok;
    });
  }
  if (Array.isArray(s.items)) {
    const tuple = s.items.map((b) => lengthWalker(b, minOnly, ctx));
    if (tuple.some((w) => w !== undefined)) {
      parts.push((value, path, issues, missedOnly) => {
        if (!Array.isArray(value)) return true;
        let ok = true;
        for (let i = 0; i < tuple.length && i < value.length; i++) {
          const walk = tuple[i];
          if (
            walk !== undefined &&
            !walk(value[i], issues === undefined ? '' : `${path}/${i}`, issues, missedOnly)
          ) {
            if (issues === undefined) return false;
            ok = false;
          }
        }
        return ok;
      });
    }
  } else if (s.items !== undefined) {
    const walk = lengthWalker(s.items, minOnly, ctx);
    if (walk !== undefined) {
      parts.push((value, path, issues, missedOnly) => {
        if (!Array.isArray(value)) return true;
        let ok = true;
        for (let i = 0; i < value.length; i++) {
          if (!walk(value[i], issues === undefined ? '' : `${path}/${i}`, issues, missedOnly)) {
            if (issues === undefined) return false;
            ok = false;
          }
        }
        return ok;
      });
    }
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return parts[0];
  return (value, path, issues, missedOnly) => {
    let ok = true;
    for (const walk of parts) {
      if (!walk(value, path, issues, missedOnly)) {
        if (issues === undefined) return false;
        ok = false;
      }
    }
    return ok;
  };
}

/** Checks the values of a schema's `Timestamp` fields in a value that already passed the schema. */
type TimestampCheck = (value: unknown, path: string, issues: ValidationIssue[]) => void;

/**
 * A check of every {@link Timestamp} field under `schema` for a real calendar day (a pattern cannot
 * refuse `2026-02-30`), or `undefined` when the schema holds none. Follows objects, arrays, unions
 * (the branch the value matches) and intersections.
 */
function timestampCheck(schema: TSchema): TimestampCheck | undefined {
  const s = schema as SchemaView;
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
  if (s.items !== undefined && !Array.isArray(s.items)) {
    const check = timestampCheck(s.items);
    if (check === undefined) return undefined;
    return (value, path, issues) => {
      if (!Array.isArray(value)) return;
      for (let i = 0; i < value.length; i++) check(value[i], `${path}/${i}`, issues);
    };
  }
  const branches = s.anyOf ?? s.allOf;
  if (branches !== undefined) {
    const checks: [Compiled, TimestampCheck][] = [];
    for (const b of branches) {
      const check = timestampCheck(b);
      // lengths in code points: a branch's UTF-16 check could refuse a string it accepts
      if (check !== undefined) checks.push([TypeCompiler.Compile(loosen(b) as TSchema), check]);
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

/** The message for a {@link Timestamp} that is not one, instead of TypeBox's pattern dump. */
const TIMESTAMP_MESSAGE =
  'must be an RFC 3339 time in UTC ending in Z, e.g. 2026-01-01T08:00:00Z (no offset such as +08:00)';

/**
 * The message for a value that fits no branch of an enum-like union (every branch a literal or
 * `null`), naming the allowed values: `must be one of "in", "out", null`. `undefined` for any
 * other union, whose issue stays TypeBox's.
 */
function choicesMessage(schema: TSchema): string | undefined {
  const branches = (schema as SchemaView).anyOf;
  if (branches === undefined || branches.length === 0) return undefined;
  const choices: string[] = [];
  for (const b of branches) {
    const v = (b as { const?: unknown }).const;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      choices.push(JSON.stringify(v));
    else if ((b as SchemaView).type === 'null') choices.push('null');
    else return undefined;
  }
  return `must be one of ${choices.join(', ')}`;
}

/**
 * Compiles a schema into a validator function. Unknown fields fail when the schema says
 * `additionalProperties: false`; nothing is removed silently. A value that fits no branch of a
 * union of literals (an enum) is reported with the allowed values: `must be one of "in", "out"`; a
 * time that is not RFC 3339 UTC says so in words (not TypeBox's pattern); a missing required field
 * is one issue (not also one of its type).
 *
 * String lengths are counted in Unicode code points, as JSON Schema says (TypeBox alone counts
 * UTF-16 code units, so `'𠀀'.repeat(100)` would fail `maxLength: 128`). A value TypeBox accepts is
 * re-checked only where a `minLength` of 2 or more could still refuse it; a value it refuses is
 * re-checked against a copy of the schema with loosened bounds plus an exact count, and its
 * issues are TypeBox's less those that are wrong in code points (same wording and paths).
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
  const ctx: WalkContext = { unions: new Map(), walkers: [new Map(), new Map()] };
  const lengths = lengthWalker(schema, false, ctx);
  const minLengths = lengths === undefined ? undefined : lengthWalker(schema, true, ctx);
  const loose = lengths === undefined ? undefined : TypeCompiler.Compile(loosen(schema) as TSchema);

  /** Whether `value` fits the schema with lengths in code points. */
  const fits = (value: unknown): boolean => {
    if (compiled.Check(value)) return minLengths === undefined || minLengths(value, '', undefined, false);
    if (loose === undefined || lengths === undefined || !loose.Check(value)) return false;
    return lengths(value, '', undefined, false);
  };

  /** TypeBox's issues, less those that are wrong in code points, plus those it misses. */
  const issuesOf = (value: unknown): ValidationIssue[] => {
    const issues: ValidationIssue[] = [];
    // paths of required fields that are missing: TypeBox also says what their type should be
    const missing = new Set<string>();
    for (const e of compiled.Errors(value)) {
      if (e.type === ValueErrorType.ObjectRequiredProperty) missing.add(e.path);
      else if (e.value === undefined && missing.has(e.path)) continue;
      if (lengths !== undefined && typeof e.value === 'string') {
        // TypeBox counted UTF-16 units: drop what is no violation in code points
        // (n units are at least n/2 code points: a string over twice the maximum needs no count)
        const n = e.value.length;
        const max = e.schema.maxLength as number;
        const min = e.schema.minLength as number;
        if (e.type === ValueErrorType.StringMaxLength && n <= 2 * max && codePointLength(e.value) <= max)
          continue;
        if (e.type === ValueErrorType.StringMinLength && codePointLength(e.value) >= min) continue;
      }
      let message = e.message;
      if (e.type === ValueErrorType.StringPattern && e.schema.pattern === Timestamp.pattern) {
        message = TIMESTAMP_MESSAGE;
      } else if (e.type === ValueErrorType.Union) {
        if (ctx.unions.get(e.schema)?.(e.value) === true) continue;
        message = choicesMessage(e.schema) ?? message;
      }
      issues.push({ path: e.path === '' ? '/' : e.path, message });
      if (issues.length >= 10) return issues;
    }
    if (lengths !== undefined) {
      const missed: ValidationIssue[] = [];
      lengths(value, '', missed, true);
      for (const m of missed) {
        if (!issues.some((i) => i.path === (m.path === '' ? '/' : m.path) && i.message === m.message)) {
          issues.push({ path: m.path === '' ? '/' : m.path, message: m.message });
        }
      }
    }
    if (issues.length === 0) issues.push({ path: '/', message: 'Expected a value that fits the schema' });
    return issues.slice(0, 10);
  };

  return (input) => {
    const value = options.coerce === true ? coerceTexts(schema, input) : input;
    if (fits(value)) {
      if (timestamps === undefined) return { ok: true, value };
      const issues: ValidationIssue[] = [];
      timestamps(value, '', issues);
      return issues.length === 0 ? { ok: true, value } : { ok: false, issues: issues.slice(0, 10) };
    }
    return { ok: false, issues: issuesOf(value) };
  };
}
