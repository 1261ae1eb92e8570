/**
 * Compiled validators for the contract's schemas (TypeBox compiler; no global format registry).
 *
 * @module
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';

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
   * parameters). Default false: JSON bodies must carry the right types.
   */
  readonly coerce?: boolean;
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
  return (input) => {
    const value = options.coerce === true ? Value.Convert(schema, Value.Clone(input)) : input;
    if (compiled.Check(value)) return { ok: true, value };
    const issues: ValidationIssue[] = [];
    for (const e of compiled.Errors(value)) {
      issues.push({ path: e.path === '' ? '/' : e.path, message: e.message });
      if (issues.length >= 10) break;
    }
    return { ok: false, issues };
  };
}
