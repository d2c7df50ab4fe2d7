/**
 * OTLP `AnyValue` in JavaScript form. The mapping keeps every distinction OTLP makes:
 * - `bigint` is `int_value` (int64, exact beyond 2^53); `number` is `double_value`
 *   (NaN, ±Infinity and -0 kept as they are);
 * - `Uint8Array` is `bytes_value`, arrays are `array_value`, {@link KeyValueList} is
 *   `kvlist_value`, and `null` is an AnyValue with no value set.
 */
export type AnyValue =
  | string
  | boolean
  | number
  | bigint
  | Uint8Array
  | AnyValue[]
  | KeyValueList
  | null;

export interface KeyValue {
  key: string;
  value: AnyValue;
}

/** `kvlist_value`: an ordered list of key-values (duplicates and order are preserved). */
export class KeyValueList {
  readonly values: KeyValue[];
  constructor(values: KeyValue[]) {
    this.values = values;
  }
}

/**
 * An attribute value as callers give it: what the OpenTelemetry API accepts, plus every
 * AnyValue form. Integral numbers become `int_value` (see `toKeyValues`).
 */
export type AttributeInput = AnyValue | undefined | ReadonlyArray<AttributeInput>;

export type AttributesInput = Readonly<Record<string, AttributeInput>> | readonly KeyValue[];

/**
 * Converts API attributes to key-values the way the official OTLP serializer does: an
 * integral `number` within int64 becomes `int_value`, any other number `double_value`,
 * `undefined` and `null` an empty value.
 */
export function toKeyValues(input: AttributesInput | undefined): KeyValue[] {
  if (input === undefined) return [];
  if (Array.isArray(input)) return input as KeyValue[];
  const out: KeyValue[] = [];
  for (const key in input) {
    if (!Object.hasOwn(input, key)) continue;
    out.push({ key, value: toAnyValue((input as Record<string, AttributeInput>)[key]) });
  }
  return out;
}

export function toAnyValue(value: AttributeInput | unknown): AnyValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return value;
    case 'number':
      return Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63
        ? BigInt(value)
        : value;
    case 'object':
      if (value === null) return null;
      if (value instanceof Uint8Array) return value;
      if (value instanceof KeyValueList) return value;
      if (Array.isArray(value)) return value.map(toAnyValue);
      return new KeyValueList(
        Object.entries(value as Record<string, unknown>).map(([k, v]) => ({
          key: k,
          value: toAnyValue(v),
        })),
      );
    default:
      return null;
  }
}

/** A plain JavaScript rendering for logs and flat JSON: bigints that fit become numbers. */
export function anyValueToPlain(value: AnyValue): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(anyValueToPlain);
  if (value instanceof KeyValueList) return keyValuesToPlain(value.values);
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

export function keyValuesToPlain(values: readonly KeyValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of values) out[kv.key] = anyValueToPlain(kv.value);
  return out;
}
