/**
 * Canonical JSON text, for comparing two requests by their JSON value rather than their bytes.
 *
 * @module
 */

/**
 * `value` (parsed JSON) as JSON text with every object's keys sorted and no spacing: two texts of
 * the same JSON value give the same string.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
