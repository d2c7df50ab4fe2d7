import { SeriesCache } from '../../codec/series-cache.js';
import { anyValueToPlain, type KeyValue } from '../../model/any-value.js';
import { bytesKey, encodeKeyValues } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, MetricType } from '../../model/types.js';
import { RepeatedTimeText } from '../helper/time-text.js';

/** A batch in InfluxDB line protocol, and the points with no line, by reason. */
export interface LineProtocol {
  text: string;
  lines: number;
  skipped: Record<string, number>;
}

/**
 * OTel points as line protocol in the shape Telegraf's Prometheus input writes (the
 * Collector's `telegraf-prometheus-v1` schema): measurement = metric name; tags = point
 * attributes, resource attributes and `otel.scope.name`; fields `gauge` or `counter` for
 * numbers, `count`, `sum` and one field per bucket bound (cumulative, `+Inf` last) for
 * histograms, `count`, `sum` and one per quantile for summaries. Timestamps in ns.
 * Exponential histograms have no such form and are skipped with a count.
 */
export function toLineProtocol(batch: MetricBatch): LineProtocol {
  return new LineProtocolWriter().write(batch);
}

/** Series whose measurement-and-tags text is remembered across batches. */
const SERIES_CACHE_LIMIT = 100_000;

/**
 * `toLineProtocol` for a stream of batches: the measurement and tag part of each series is
 * escaped and sorted once and remembered, so a steady stream formats only fields and time.
 */
export class LineProtocolWriter {
  readonly #heads = new SeriesCache<string>(SERIES_CACHE_LIMIT);
  readonly #timeText = new RepeatedTimeText(String);

  write(batch: MetricBatch): LineProtocol {
    const out: LineProtocol = { text: '', lines: 0, skipped: {} };
    const resourceTags = batch.resources.map((r) => r.attributes);
    const resourceKeys = batch.resources.map((r) => bytesKey(encodeKeyValues(r.attributes)));
    const tagCache: (string | undefined)[] = [];
    const contexts: (Map<string, string> | undefined)[] = [];
    const view = new PointView(batch);
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const metric = view.metric;
      const reason =
        metric.type === MetricType.ExponentialHistogram
          ? 'exponential_histogram'
          : metric.type === MetricType.Empty
            ? 'empty_metric'
            : view.flags & DataPointFlags.NoRecordedValue
              ? 'no_recorded_value'
              : undefined;
      if (reason) {
        out.skipped[reason] = (out.skipped[reason] ?? 0) + 1;
        continue;
      }
      const scope = batch.scopes[metric.scope];
      let head = tagCache[view.series];
      if (head === undefined) {
        const m = view.metricIndex;
        contexts[m] ??= this.#heads.context(
          `${resourceKeys[scope.resource]}\u0001${scope.name}\u0001${metric.name}`,
        );
        head = this.#heads.get(
          contexts[m],
          batch.attributes.bytes(view.attributeSet),
          () =>
            `${escapeMeasurement(metric.name)}${tags([
              ...resourceTags[scope.resource],
              ...view.attributes,
              ...(scope.name ? [{ key: 'otel.scope.name', value: scope.name }] : []),
            ])}`,
        );
        tagCache[view.series] = head;
      }
      const fields: string[] = [];
      switch (metric.type) {
        case MetricType.Gauge:
        case MetricType.Sum:
          field(
            fields,
            metric.type === MetricType.Sum && metric.monotonic ? 'counter' : 'gauge',
            view.value,
          );
          break;
        case MetricType.Histogram: {
          field(fields, 'count', Number(view.count));
          field(fields, 'sum', view.sum);
          const bounds = view.bounds;
          const counts = view.bucketCounts;
          let cumulative = 0;
          for (let k = 0; k < bounds.length; k++) {
            cumulative += Number(counts[k] ?? 0n);
            field(fields, String(bounds[k]), cumulative);
          }
          field(fields, '+Inf', Number(view.count));
          break;
        }
        default:
          field(fields, 'count', Number(view.count));
          field(fields, 'sum', view.sum);
          for (const q of view.quantiles) field(fields, String(q.quantile), q.value);
      }
      // Line protocol has no NaN or infinities: such fields are left out, and a point left
      // with no field at all is skipped with a count.
      if (fields.length === 0) {
        out.skipped.non_finite_value = (out.skipped.non_finite_value ?? 0) + 1;
        continue;
      }
      out.text += `${head} ${fields.join(',')} ${this.#timeText.of(batch.points.time, i)}\n`;
      out.lines++;
    }
    return out;
  }
}

/** `,key=value` pairs sorted by key (InfluxDB's fast path); empty values are left out. */
function tags(attributes: readonly KeyValue[]): string {
  const pairs = new Map<string, string>();
  for (const kv of attributes) {
    const plain = anyValueToPlain(kv.value);
    const value = typeof plain === 'string' ? plain : JSON.stringify(plain);
    if (value !== '' && kv.key !== '') pairs.set(kv.key, value);
  }
  let out = '';
  for (const key of [...pairs.keys()].sort())
    out += `,${escapeKey(key)}=${escapeKey(pairs.get(key)!)}`;
  return out;
}

function field(fields: string[], key: string, value: number | undefined): void {
  if (value !== undefined && Number.isFinite(value)) fields.push(`${escapeKey(key)}=${value}`);
}

function escapeMeasurement(name: string): string {
  return name.replace(/[\\, ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}

function escapeKey(text: string): string {
  return text.replace(/[\\,= ]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
}
