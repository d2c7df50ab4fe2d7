import {
  type AnyValue,
  type Exemplar,
  type KeyValue,
  KeyValueList,
  type MetricBatch,
  MetricType,
  PointBits,
} from '../../model/index.js';
import type { Words64 } from '../../model/words64.js';
import { type BatchLayout, layoutBatch } from '../batch-layout.js';
import { formatDouble, formatString, toBase64, toHex } from './json-scalars.js';

/**
 * `MetricBatch` → OTLP/JSON `ExportMetricsServiceRequest`, exactly as the OTLP specification
 * says: lowerCamelCase keys, 64-bit integers as decimal strings, enums as integers, trace and
 * span ids as hex, fields at their default value omitted. Each attribute set is rendered once
 * per call and reused by every point that carries it.
 */
export function encodeMetricsRequestJson(batch: MetricBatch): string {
  return new JsonRequestEncoder(batch).encode();
}

const DATA_KEY = ['', 'gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

class JsonRequestEncoder {
  readonly batch: MetricBatch;
  readonly layout: BatchLayout;
  readonly attributeJson: (string | undefined)[] = [];
  // Points of a batch mostly share their times and their bounds: render each once.
  readonly startTimes = new LastU64Field('startTimeUnixNano');
  readonly times = new LastU64Field('timeUnixNano');
  #boundsStart = -1;
  #boundsLength = -1;
  #boundsJson = '';

  constructor(batch: MetricBatch) {
    this.batch = batch;
    this.layout = layoutBatch(batch);
  }

  encode(): string {
    const { batch, layout } = this;
    const resources: string[] = [];
    for (let r = 0; r < batch.resources.length; r++) {
      const resource = batch.resources[r];
      const info = fields([
        keyValuesField('attributes', resource.attributes),
        uintField('droppedAttributesCount', resource.droppedAttributesCount),
      ]);
      const scopes = layout.scopesOfResource[r].map((s) => this.scope(s));
      resources.push(
        fields([
          `"resource":${info}`,
          scopes.length ? `"scopeMetrics":[${scopes.join(',')}]` : '',
          stringField('schemaUrl', resource.schemaUrl),
        ]),
      );
    }
    return `{"resourceMetrics":[${resources.join(',')}]}`;
  }

  scope(s: number): string {
    const scope = this.batch.scopes[s];
    const info = fields([
      stringField('name', scope.name),
      stringField('version', scope.version),
      keyValuesField('attributes', scope.attributes),
      uintField('droppedAttributesCount', scope.droppedAttributesCount),
    ]);
    const metrics = this.layout.metricsOfScope[s].map((m) => this.metric(m));
    return fields([
      `"scope":${info}`,
      metrics.length ? `"metrics":[${metrics.join(',')}]` : '',
      stringField('schemaUrl', scope.schemaUrl),
    ]);
  }

  metric(m: number): string {
    const metric = this.batch.metrics[m];
    const parts = [
      stringField('name', metric.name),
      stringField('description', metric.description),
      stringField('unit', metric.unit),
    ];
    const type = metric.type;
    if (type !== MetricType.Empty) {
      const points = this.points(m, type);
      const data = fields([
        points.length ? `"dataPoints":[${points}]` : '',
        type === MetricType.Sum ||
        type === MetricType.Histogram ||
        type === MetricType.ExponentialHistogram
          ? uintField('aggregationTemporality', metric.temporality)
          : '',
        type === MetricType.Sum && metric.monotonic ? '"isMonotonic":true' : '',
      ]);
      parts.push(`"${DATA_KEY[type]}":${data}`);
    }
    parts.push(keyValuesField('metadata', metric.metadata));
    return fields(parts);
  }

  points(m: number, type: MetricType): string {
    const { layout } = this;
    const { order } = layout;
    let out = '';
    for (let k = layout.metricStart[m]; k < layout.metricEnd[m]; k++) {
      if (out !== '') out += ',';
      out += this.point(order === undefined ? k : order[k], type);
    }
    return out;
  }

  bounds(start: number, length: number): string {
    if (start !== this.#boundsStart || length !== this.#boundsLength) {
      const floats = this.batch.distributions.floats;
      let json = '';
      for (let k = start; k < start + length; k++) {
        json += k === start ? formatDouble(floats[k]) : `,${formatDouble(floats[k])}`;
      }
      this.#boundsStart = start;
      this.#boundsLength = length;
      this.#boundsJson = length === 0 ? '' : `"explicitBounds":[${json}]`;
    }
    return this.#boundsJson;
  }

  point(i: number, type: MetricType): string {
    const batch = this.batch;
    const points = batch.points;
    const d = batch.distributions;
    const bits = points.bits[i];
    const parts = [
      this.attributes(i),
      this.startTimes.format(points.startTime, i),
      this.times.format(points.time, i),
    ];
    if (type === MetricType.Gauge || type === MetricType.Sum) {
      if (bits & PointBits.HasValue) {
        parts.push(
          bits & PointBits.Int
            ? `"asInt":"${points.value.i64[i]}"`
            : `"asDouble":${formatDouble(points.value.f64[i])}`,
        );
      }
    } else {
      const row = points.detail[i];
      parts.push(u64Field('count', d.total.u64[row]));
      if (type === MetricType.Summary) parts.push(doubleField('sum', points.value.f64[i]));
      else if (bits & PointBits.HasSum) parts.push(`"sum":${formatDouble(points.value.f64[i])}`);
      if (type === MetricType.Histogram) {
        parts.push(
          countsField(
            'bucketCounts',
            d.bucketCounts.u64,
            d.positiveStart[row],
            d.positiveLength[row],
          ),
        );
        parts.push(this.bounds(d.boundsStart[row], d.boundsLength[row]));
      } else if (type === MetricType.ExponentialHistogram) {
        parts.push(intField('scale', d.scale[row]));
        parts.push(u64Field('zeroCount', d.zeroCount.u64[row]));
        if (bits & PointBits.HasPositive) {
          parts.push(
            `"positive":${buckets(d.positiveOffset[row], d.bucketCounts.u64, d.positiveStart[row], d.positiveLength[row])}`,
          );
        }
        if (bits & PointBits.HasNegative) {
          parts.push(
            `"negative":${buckets(d.negativeOffset[row], d.bucketCounts.u64, d.negativeStart[row], d.negativeLength[row])}`,
          );
        }
        parts.push(doubleField('zeroThreshold', d.zeroThreshold[row]));
      } else {
        const start = d.boundsStart[row];
        const quantiles: string[] = [];
        for (let k = start; k < start + d.boundsLength[row]; k += 2) {
          quantiles.push(
            fields([doubleField('quantile', d.floats[k]), doubleField('value', d.floats[k + 1])]),
          );
        }
        if (quantiles.length) parts.push(`"quantileValues":[${quantiles.join(',')}]`);
      }
      if (bits & PointBits.HasMin) parts.push(`"min":${formatDouble(d.min[row])}`);
      if (bits & PointBits.HasMax) parts.push(`"max":${formatDouble(d.max[row])}`);
    }
    const end = points.exemplarEnd[i];
    const start = i === 0 ? 0 : points.exemplarEnd[i - 1];
    if (end > start && type !== MetricType.Summary) {
      parts.push(`"exemplars":[${batch.exemplars.slice(start, end).map(exemplarJson).join(',')}]`);
    }
    parts.push(uintField('flags', points.flags[i]));
    return fields(parts);
  }

  attributes(i: number): string {
    const batch = this.batch;
    const set = batch.seriesAttributes(batch.points.series[i]);
    let json = this.attributeJson[set];
    if (json === undefined) {
      json = keyValuesField('attributes', batch.attributes.values(set));
      this.attributeJson[set] = json;
    }
    return json;
  }
}

function fields(parts: string[]): string {
  let out = '{';
  for (const part of parts) {
    if (part === '') continue;
    if (out.length > 1) out += ',';
    out += part;
  }
  return `${out}}`;
}

function stringField(key: string, value: string): string {
  return value === '' ? '' : `"${key}":${formatString(value)}`;
}

function uintField(key: string, value: number): string {
  return value === 0 ? '' : `"${key}":${value}`;
}

function intField(key: string, value: number): string {
  return value === 0 ? '' : `"${key}":${value}`;
}

function u64Field(key: string, value: bigint): string {
  return value === 0n ? '' : `"${key}":"${value}"`;
}

function doubleField(key: string, value: number): string {
  return value === 0 && !Object.is(value, -0) ? '' : `"${key}":${formatDouble(value)}`;
}

function countsField(key: string, counts: BigUint64Array, start: number, length: number): string {
  if (length === 0) return '';
  let items = '';
  for (let k = start; k < start + length; k++)
    items += k === start ? `"${counts[k]}"` : `,"${counts[k]}"`;
  return `"${key}":[${items}]`;
}

/** A u64 field rendered from a column, remembering the last value (times repeat a lot). */
class LastU64Field {
  readonly #key: string;
  #lo = -1;
  #hi = -1;
  #json = '';

  constructor(key: string) {
    this.#key = key;
  }

  format(column: Words64, index: number): string {
    const lo = column.u32[2 * index];
    const hi = column.u32[2 * index + 1];
    if (lo !== this.#lo || hi !== this.#hi) {
      this.#lo = lo;
      this.#hi = hi;
      this.#json = lo === 0 && hi === 0 ? '' : `"${this.#key}":"${column.u64[index]}"`;
    }
    return this.#json;
  }
}

function buckets(offset: number, counts: BigUint64Array, start: number, length: number): string {
  return fields([intField('offset', offset), countsField('bucketCounts', counts, start, length)]);
}

function exemplarJson(exemplar: Exemplar): string {
  const value = exemplar.value;
  return fields([
    keyValuesField('filteredAttributes', exemplar.filteredAttributes),
    u64Field('timeUnixNano', exemplar.time),
    typeof value === 'bigint'
      ? `"asInt":"${value}"`
      : typeof value === 'number'
        ? `"asDouble":${formatDouble(value)}`
        : '',
    exemplar.spanId.length ? `"spanId":"${toHex(exemplar.spanId)}"` : '',
    exemplar.traceId.length ? `"traceId":"${toHex(exemplar.traceId)}"` : '',
  ]);
}

export function keyValuesField(key: string, values: readonly KeyValue[]): string {
  return values.length === 0 ? '' : `"${key}":${keyValuesJson(values)}`;
}

function keyValuesJson(values: readonly KeyValue[]): string {
  let out = '[';
  for (let k = 0; k < values.length; k++) {
    if (k > 0) out += ',';
    const kv = values[k];
    out += `{"key":${formatString(kv.key)},"value":${anyValueJson(kv.value)}}`;
  }
  return `${out}]`;
}

export function anyValueJson(value: AnyValue): string {
  switch (typeof value) {
    case 'string':
      return `{"stringValue":${formatString(value)}}`;
    case 'boolean':
      return `{"boolValue":${value}}`;
    case 'bigint':
      return `{"intValue":"${value}"}`;
    case 'number':
      return `{"doubleValue":${formatDouble(value)}}`;
    default:
      break;
  }
  if (value === null) return '{}';
  if (value instanceof Uint8Array) return `{"bytesValue":"${toBase64(value)}"}`;
  if (value instanceof KeyValueList)
    return `{"kvlistValue":{"values":${keyValuesJson(value.values)}}}`;
  return `{"arrayValue":{"values":[${value.map(anyValueJson).join(',')}]}}`;
}
