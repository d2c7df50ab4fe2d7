import { DecodeError } from '../../model/errors.js';
import {
  type AnyValue,
  type Exemplar,
  type KeyValue,
  KeyValueList,
  MetricBatch,
  MetricType,
  type Temporality,
} from '../../model/index.js';

/**
 * OTLP/JSON `ExportMetricsServiceRequest` → `MetricBatch`.
 *
 * Accepts the specification's form and what real senders emit besides: lowerCamelCase and
 * snake_case keys, 64-bit integers as strings or numbers, enums as integers or names,
 * doubles as numbers or "NaN" / "Infinity" / "-Infinity", `null` for absent fields.
 * Unknown keys are ignored, as the specification requires. Errors carry the JSON path.
 *
 * Integers written as bare JSON numbers beyond 2^53 lose precision in `JSON.parse`; the
 * specification requires them as strings, which are exact.
 */
export function decodeMetricsRequestJson(input: string | Uint8Array): MetricBatch {
  // Fatal, as for protobuf: bytes that are not UTF-8 are refused, not replaced.
  let text: string;
  try {
    text =
      typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input);
  } catch {
    throw new DecodeError('$', 'a body of valid UTF-8 text');
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    throw new DecodeError('$', 'valid JSON', (err as Error).message);
  }
  return new JsonRequestDecoder().decode(root);
}

type JsonObject = Record<string, unknown>;

const TEMPORALITY_NAMES: Record<string, Temporality> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

const DATA_KINDS: [string, string, MetricType][] = [
  ['gauge', 'gauge', MetricType.Gauge],
  ['sum', 'sum', MetricType.Sum],
  ['histogram', 'histogram', MetricType.Histogram],
  ['exponentialHistogram', 'exponential_histogram', MetricType.ExponentialHistogram],
  ['summary', 'summary', MetricType.Summary],
];

class JsonRequestDecoder {
  readonly batch = new MetricBatch();

  decode(root: unknown): MetricBatch {
    const request = object(root, '$');
    if (request === undefined) throw new DecodeError('$', 'an object with resourceMetrics');
    each(get(request, 'resourceMetrics', 'resource_metrics'), '$.resourceMetrics', (rm, path) =>
      this.resourceMetrics(rm, path),
    );
    return this.batch;
  }

  resourceMetrics(rm: JsonObject, path: string): void {
    const batch = this.batch;
    const resourcePath = `${path}.resource`;
    const resource = object(get(rm, 'resource'), resourcePath) ?? {};
    const r = batch.addResource({
      attributes: keyValues(get(resource, 'attributes'), `${resourcePath}.attributes`),
      droppedAttributesCount: uint32(
        get(resource, 'droppedAttributesCount', 'dropped_attributes_count'),
        `${resourcePath}.droppedAttributesCount`,
      ),
      schemaUrl: string(get(rm, 'schemaUrl', 'schema_url'), `${path}.schemaUrl`),
    });
    each(get(rm, 'scopeMetrics', 'scope_metrics'), `${path}.scopeMetrics`, (sm, p) =>
      this.scopeMetrics(r, sm, p),
    );
  }

  scopeMetrics(r: number, sm: JsonObject, path: string): void {
    const scopePath = `${path}.scope`;
    const scope = object(get(sm, 'scope'), scopePath) ?? {};
    const s = this.batch.addScope(r, {
      name: string(get(scope, 'name'), `${scopePath}.name`),
      version: string(get(scope, 'version'), `${scopePath}.version`),
      attributes: keyValues(get(scope, 'attributes'), `${scopePath}.attributes`),
      droppedAttributesCount: uint32(
        get(scope, 'droppedAttributesCount', 'dropped_attributes_count'),
        `${scopePath}.droppedAttributesCount`,
      ),
      schemaUrl: string(get(sm, 'schemaUrl', 'schema_url'), `${path}.schemaUrl`),
    });
    each(get(sm, 'metrics'), `${path}.metrics`, (metric, p) => this.metric(s, metric, p));
  }

  metric(s: number, metric: JsonObject, path: string): void {
    let type: MetricType = MetricType.Empty;
    let data: JsonObject | undefined;
    let dataPath = path;
    for (const [camel, snake, kind] of DATA_KINDS) {
      const key = metric[camel] != null ? camel : snake;
      const found = object(metric[key], `${path}.${key}`);
      if (found === undefined) continue;
      if (data !== undefined) {
        throw new DecodeError(
          `${path}.${key}`,
          'one data field per metric',
          `"${dataPath}" is set too`,
        );
      }
      data = found;
      type = kind;
      dataPath = `${path}.${key}`;
    }
    const m = this.batch.addMetric(s, {
      name: string(get(metric, 'name'), `${path}.name`),
      description: string(get(metric, 'description'), `${path}.description`),
      unit: string(get(metric, 'unit'), `${path}.unit`),
      type,
      temporality: data
        ? temporality(
            get(data, 'aggregationTemporality', 'aggregation_temporality'),
            `${dataPath}.aggregationTemporality`,
          )
        : 0,
      monotonic: data
        ? boolean(get(data, 'isMonotonic', 'is_monotonic'), `${dataPath}.isMonotonic`)
        : false,
      metadata: keyValues(get(metric, 'metadata'), `${path}.metadata`),
    });
    if (data === undefined) return;
    each(get(data, 'dataPoints', 'data_points'), `${dataPath}.dataPoints`, (point, p) =>
      this.point(m, type, point, p),
    );
  }

  point(m: number, type: MetricType, point: JsonObject, path: string): void {
    const batch = this.batch;
    const series = batch.series(m, keyValues(get(point, 'attributes'), `${path}.attributes`));
    const common = {
      startTime: uint64(
        get(point, 'startTimeUnixNano', 'start_time_unix_nano'),
        `${path}.startTimeUnixNano`,
      ),
      time: uint64(get(point, 'timeUnixNano', 'time_unix_nano'), `${path}.timeUnixNano`),
      flags: uint32(get(point, 'flags'), `${path}.flags`),
      exemplars: exemplars(get(point, 'exemplars'), `${path}.exemplars`),
    };
    const count = () => uint64(get(point, 'count'), `${path}.count`);
    const optional = (key: string) => {
      const value = get(point, key);
      return value == null ? undefined : double(value, `${path}.${key}`);
    };
    switch (type) {
      case MetricType.Gauge:
      case MetricType.Sum: {
        const asInt = get(point, 'asInt', 'as_int');
        const asDouble = get(point, 'asDouble', 'as_double');
        const value =
          asInt != null
            ? int64(asInt, `${path}.asInt`)
            : asDouble != null
              ? double(asDouble, `${path}.asDouble`)
              : undefined;
        batch.addNumberPoint(series, { ...common, value });
        return;
      }
      case MetricType.Histogram: {
        const bounds = array(
          get(point, 'explicitBounds', 'explicit_bounds'),
          `${path}.explicitBounds`,
        );
        const counts = array(get(point, 'bucketCounts', 'bucket_counts'), `${path}.bucketCounts`);
        const i = batch.addHistogramPoint(series, {
          ...common,
          count: count(),
          sum: optional('sum'),
          min: optional('min'),
          max: optional('max'),
          bounds: [],
          bucketCounts: [],
        });
        // Bounds and counts are set after the fact: OTLP does not require bounds + 1 counts
        // (a point with no buckets, or a sender's mistake), and what arrived is what we keep.
        const d = batch.distributions;
        const row = batch.points.detail[i];
        d.reserveFloats(bounds.length);
        bounds.forEach((b, k) => {
          d.floats[d.floatsUsed + k] = double(b, `${path}.explicitBounds[${k}]`);
        });
        d.commitBounds(row, bounds.length);
        d.reserveBucketCounts(counts.length);
        d.positiveStart[row] = d.bucketCountsUsed;
        d.positiveLength[row] = counts.length;
        counts.forEach((c, k) => {
          d.bucketCounts.u64[d.bucketCountsUsed + k] = uint64(c, `${path}.bucketCounts[${k}]`);
        });
        d.bucketCountsUsed += counts.length;
        return;
      }
      case MetricType.ExponentialHistogram: {
        const bucketsAt = (camel: string) => {
          const value = object(get(point, camel), `${path}.${camel}`);
          if (value === undefined) return undefined;
          return {
            offset: int32(get(value, 'offset'), `${path}.${camel}.offset`),
            bucketCounts: array(
              get(value, 'bucketCounts', 'bucket_counts'),
              `${path}.${camel}.bucketCounts`,
            ).map((c, k) => uint64(c, `${path}.${camel}.bucketCounts[${k}]`)),
          };
        };
        batch.addExponentialHistogramPoint(series, {
          ...common,
          count: count(),
          sum: optional('sum'),
          min: optional('min'),
          max: optional('max'),
          scale: int32(get(point, 'scale'), `${path}.scale`),
          zeroCount: uint64(get(point, 'zeroCount', 'zero_count'), `${path}.zeroCount`),
          zeroThreshold: double(
            get(point, 'zeroThreshold', 'zero_threshold') ?? 0,
            `${path}.zeroThreshold`,
          ),
          positive: bucketsAt('positive'),
          negative: bucketsAt('negative'),
        });
        return;
      }
      default: {
        const quantiles: { quantile: number; value: number }[] = [];
        each(get(point, 'quantileValues', 'quantile_values'), `${path}.quantileValues`, (q, p) => {
          quantiles.push({
            quantile: double(get(q, 'quantile') ?? 0, `${p}.quantile`),
            value: double(get(q, 'value') ?? 0, `${p}.value`),
          });
        });
        batch.addSummaryPoint(series, {
          ...common,
          exemplars: undefined,
          count: count(),
          sum: double(get(point, 'sum') ?? 0, `${path}.sum`),
          quantiles,
        });
      }
    }
  }
}

function get(from: JsonObject, camel: string, snake?: string): unknown {
  const value = from[camel];
  return value !== undefined || snake === undefined ? value : from[snake];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const text = JSON.stringify(value);
  return `${typeof value} ${text && text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}

function object(value: unknown, path: string): JsonObject | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new DecodeError(path, 'an object', `got ${describe(value)}`);
  }
  return value as JsonObject;
}

function array(value: unknown, path: string): unknown[] {
  if (value == null) return [];
  if (!Array.isArray(value)) throw new DecodeError(path, 'an array', `got ${describe(value)}`);
  return value;
}

function each(value: unknown, path: string, visit: (item: JsonObject, path: string) => void): void {
  const items = array(value, path);
  for (let k = 0; k < items.length; k++) {
    const itemPath = `${path}[${k}]`;
    const item = object(items[k], itemPath);
    if (item === undefined) throw new DecodeError(itemPath, 'an object', 'got null');
    visit(item, itemPath);
  }
}

function string(value: unknown, path: string): string {
  if (value == null) return '';
  if (typeof value !== 'string') throw new DecodeError(path, 'a string', `got ${describe(value)}`);
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (value == null) return false;
  if (typeof value !== 'boolean')
    throw new DecodeError(path, 'true or false', `got ${describe(value)}`);
  return value;
}

const INTEGER = /^-?\d+$/;

function integer(value: unknown, path: string, what: string, min: bigint, max: bigint): bigint {
  let result: bigint;
  if (typeof value === 'number' && Number.isInteger(value)) result = BigInt(value);
  else if (typeof value === 'string' && INTEGER.test(value)) result = BigInt(value);
  else throw new DecodeError(path, what, `got ${describe(value)}`);
  if (result < min || result > max) throw new DecodeError(path, what, `${result} is out of range`);
  return result;
}

function uint64(value: unknown, path: string): bigint {
  if (value == null) return 0n;
  return integer(
    value,
    path,
    'an unsigned 64-bit integer (decimal string or number)',
    0n,
    2n ** 64n - 1n,
  );
}

function int64(value: unknown, path: string): bigint {
  return integer(
    value,
    path,
    'a signed 64-bit integer (decimal string or number)',
    -(2n ** 63n),
    2n ** 63n - 1n,
  );
}

function uint32(value: unknown, path: string): number {
  if (value == null) return 0;
  return Number(integer(value, path, 'an unsigned 32-bit integer', 0n, 0xffffffffn));
}

function int32(value: unknown, path: string): number {
  if (value == null) return 0;
  return Number(integer(value, path, 'a signed 32-bit integer', -(2n ** 31n), 2n ** 31n - 1n));
}

function double(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') {
    if (value === 'NaN') return Number.NaN;
    if (value === 'Infinity') return Number.POSITIVE_INFINITY;
    if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
    const n = Number(value);
    if (value.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw new DecodeError(
    path,
    'a number, or "NaN", "Infinity", "-Infinity"',
    `got ${describe(value)}`,
  );
}

function temporality(value: unknown, path: string): Temporality {
  if (value == null) return 0;
  if (typeof value === 'string' && value in TEMPORALITY_NAMES) return TEMPORALITY_NAMES[value];
  if (value === 0 || value === 1 || value === 2) return value;
  throw new DecodeError(
    path,
    'an aggregation temporality: 0, 1, 2 or its AGGREGATION_TEMPORALITY_* name',
    `got ${describe(value)}`,
  );
}

/** AnyValues nest (arrays, key-value lists); deeper than this is an attack, not data. */
const MAX_DEPTH = 64;

function keyValues(value: unknown, path: string, depth = 0): KeyValue[] {
  const out: KeyValue[] = [];
  each(value, path, (kv, p) => {
    out.push({
      key: string(get(kv, 'key'), `${p}.key`),
      value: anyValue(get(kv, 'value'), `${p}.value`, depth + 1),
    });
  });
  return out;
}

function anyValue(value: unknown, path: string, depth: number): AnyValue {
  if (depth > MAX_DEPTH) throw new DecodeError(path, `AnyValue nested at most ${MAX_DEPTH} deep`);
  const av = object(value, path);
  if (av === undefined) return null;
  for (const key of Object.keys(av)) {
    const v = av[key];
    if (v === null) continue;
    switch (key) {
      case 'stringValue':
      case 'string_value':
        return string(v, `${path}.${key}`);
      case 'boolValue':
      case 'bool_value':
        return boolean(v, `${path}.${key}`);
      case 'intValue':
      case 'int_value':
        return int64(v, `${path}.${key}`);
      case 'doubleValue':
      case 'double_value':
        return double(v, `${path}.${key}`);
      case 'bytesValue':
      case 'bytes_value':
        return base64(v, `${path}.${key}`);
      case 'arrayValue':
      case 'array_value': {
        const values = array(
          get(object(v, `${path}.${key}`) ?? {}, 'values'),
          `${path}.${key}.values`,
        );
        return values.map((item, k) => anyValue(item, `${path}.${key}.values[${k}]`, depth + 1));
      }
      case 'kvlistValue':
      case 'kvlist_value':
        return new KeyValueList(
          keyValues(
            get(object(v, `${path}.${key}`) ?? {}, 'values'),
            `${path}.${key}.values`,
            depth + 1,
          ),
        );
      default:
        break;
    }
  }
  return null;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function base64(value: unknown, path: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value)) {
    throw new DecodeError(path, 'base64 bytes', `got ${describe(value)}`);
  }
  return new Uint8Array(
    Buffer.from(value, value.includes('-') || value.includes('_') ? 'base64url' : 'base64'),
  );
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/** Trace and span ids are hex in OTLP/JSON. Lengths are not judged here: bytes pass through. */
function hexId(value: unknown, path: string, length: number): Uint8Array {
  if (value == null || value === '') return new Uint8Array(0);
  if (typeof value !== 'string' || !HEX.test(value)) {
    throw new DecodeError(
      path,
      `a ${length}-byte id as ${length * 2} hex digits`,
      `got ${describe(value)}`,
    );
  }
  return new Uint8Array(Buffer.from(value, 'hex'));
}

function exemplars(value: unknown, path: string): Exemplar[] | undefined {
  const out: Exemplar[] = [];
  each(value, path, (e, p) => {
    const asInt = get(e, 'asInt', 'as_int');
    const asDouble = get(e, 'asDouble', 'as_double');
    out.push({
      filteredAttributes: keyValues(
        get(e, 'filteredAttributes', 'filtered_attributes'),
        `${p}.filteredAttributes`,
      ),
      time: uint64(get(e, 'timeUnixNano', 'time_unix_nano'), `${p}.timeUnixNano`),
      value:
        asInt != null
          ? int64(asInt, `${p}.asInt`)
          : asDouble != null
            ? double(asDouble, `${p}.asDouble`)
            : undefined,
      spanId: hexId(get(e, 'spanId', 'span_id'), `${p}.spanId`, 8),
      traceId: hexId(get(e, 'traceId', 'trace_id'), `${p}.traceId`, 16),
    });
  });
  return out.length ? out : undefined;
}
