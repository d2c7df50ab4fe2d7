import { createHash } from 'node:crypto';
import { SeriesCache } from '../../codec/series-cache.js';
import { keyValuesToPlain } from '../../model/any-value.js';
import { encodeKeyValues } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { DataPointFlags, MetricType, Temporality } from '../../model/types.js';
import { RepeatedTimeText } from '../helper/time-text.js';

/** A batch as the text of two `COPY ... FROM STDIN` streams (PostgreSQL's text format). */
export interface CopyRows {
  points: string;
  pointRows: number;
  histograms: string;
  histogramRows: number;
  /** Points with no row, by reason. */
  skipped: Record<string, number>;
}

const TYPE_NAME = ['', 'gauge', 'sum', 'histogram', 'exponential_histogram', 'summary'];
const NULL = '\\N';

/** Series whose row text is remembered across batches; past this the memory starts over. */
const SERIES_CACHE_LIMIT = 100_000;

/**
 * Batches as COPY text, in the column order of `POINT_COLUMNS` and `HISTOGRAM_COLUMNS`
 * (schema.ts). The columns that depend only on the series (metric, attributes and resource
 * JSON, scope, series hash) are rendered once per series and remembered across batches, so
 * a steady stream formats only times and values per point.
 */
export class CopyRowsWriter {
  readonly #series = new SeriesCache<string>(SERIES_CACHE_LIMIT);
  /** A point's `time`, `start_time` and `time_unix_nano` columns. */
  readonly #timeText = new RepeatedTimeText((nanos) => this.#timestamp(nanos));
  readonly #startText = new RepeatedTimeText((nanos) =>
    nanos === 0n ? NULL : this.#timestamp(nanos),
  );
  readonly #nanosText = new RepeatedTimeText(String);
  /** The date-and-second text of the last two seconds seen (points' starts and times). */
  readonly #seconds: [bigint, string][] = [
    [-1n, ''],
    [-1n, ''],
  ];

  write(batch: MetricBatch): CopyRows {
    const out: CopyRows = {
      points: '',
      pointRows: 0,
      histograms: '',
      histogramRows: 0,
      skipped: {},
    };
    const resources = batch.resources.map((r) => ({
      json: copyText(JSON.stringify(keyValuesToPlain(r.attributes))),
      bytes: encodeKeyValues(r.attributes),
    }));
    const contexts: (Map<string, string> | undefined)[] = [];
    const seriesText: (string | undefined)[] = [];
    const view = new PointView(batch);
    for (let i = 0; i < batch.pointCount; i++) {
      view.at(i);
      const metric = view.metric;
      if (metric.type === MetricType.Empty || view.flags & DataPointFlags.NoRecordedValue) {
        const reason = metric.type === MetricType.Empty ? 'empty_metric' : 'no_recorded_value';
        out.skipped[reason] = (out.skipped[reason] ?? 0) + 1;
        continue;
      }
      const m = view.metricIndex;
      const scope = batch.scopes[metric.scope];
      let series = seriesText[view.series];
      if (series === undefined) {
        const resource = resources[scope.resource];
        contexts[m] ??= this.#series.context(
          `${resource.json}\u0001${scope.name}\u0001${scope.version}\u0001${metric.name}\u0001${metric.type}\u0001${metric.temporality}\u0001${metric.unit}\u0001${metric.type === MetricType.Sum && metric.monotonic}`,
        );
        const attributes = batch.attributes.bytes(view.attributeSet);
        series = this.#series.get(contexts[m], attributes, () =>
          [
            copyText(metric.name),
            TYPE_NAME[metric.type],
            metric.temporality === Temporality.Delta
              ? 'delta'
              : metric.temporality === Temporality.Cumulative
                ? 'cumulative'
                : NULL,
            copyText(metric.unit),
            copyText(JSON.stringify(keyValuesToPlain(view.attributes))),
            resource.json,
            copyText(scope.version ? `${scope.name}@${scope.version}` : scope.name),
            identityHash(
              resource.bytes,
              scope.name,
              scope.version,
              metric.name,
              metric.type,
              attributes,
            ),
          ].join('\t'),
        );
        seriesText[view.series] = series;
      }
      const { time, startTime } = batch.points;
      const head = `${this.#timeText.of(time, i)}\t${this.#startText.of(startTime, i)}\t${this.#nanosText.of(time, i)}\t${series}`;
      if (metric.type === MetricType.Gauge || metric.type === MetricType.Sum) {
        const monotonic = metric.type === MetricType.Sum ? String(metric.monotonic) : NULL;
        out.points += `${head}\t${monotonic}\t${number(view.value)}\n`;
        out.pointRows++;
        continue;
      }
      const sum = view.sum;
      const min = view.min;
      const max = view.max;
      const row = [head, view.count.toString(), sum === undefined ? NULL : number(sum)];
      row.push(min === undefined ? NULL : number(min), max === undefined ? NULL : number(max));
      if (metric.type === MetricType.Histogram) {
        row.push(
          array(view.bounds),
          array(view.bucketCounts),
          NULL,
          NULL,
          NULL,
          NULL,
          NULL,
          NULL,
          NULL,
        );
      } else if (metric.type === MetricType.ExponentialHistogram) {
        const positive = view.positive;
        const negative = view.negative;
        row.push(NULL, NULL, String(view.scale), view.zeroCount.toString());
        row.push(
          positive ? String(positive.offset) : NULL,
          positive ? array(positive.bucketCounts) : NULL,
        );
        row.push(
          negative ? String(negative.offset) : NULL,
          negative ? array(negative.bucketCounts) : NULL,
        );
        row.push(NULL);
      } else {
        row.push(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        row.push(
          copyText(
            JSON.stringify(view.quantiles.map((q) => ({ quantile: q.quantile, value: q.value }))),
          ),
        );
      }
      out.histograms += `${row.join('\t')}\n`;
      out.histogramRows++;
    }
    return out;
  }

  /**
   * Nanoseconds since the epoch as a `timestamptz` literal (PostgreSQL keeps microseconds);
   * the date-and-second part is reused while points share a second (kept for two seconds:
   * a point's start and its time usually differ).
   */
  #timestamp(nanos: bigint): string {
    const micros = nanos / 1000n;
    const second = micros / 1_000_000n;
    const seconds = this.#seconds;
    let text: string;
    if (seconds[0][0] === second) text = seconds[0][1];
    else if (seconds[1][0] === second) text = seconds[1][1];
    else {
      text = new Date(Number(second) * 1000).toISOString().slice(0, 19);
      seconds[1] = seconds[0];
      seconds[0] = [second, text];
    }
    return `${text}.${(micros % 1_000_000n).toString().padStart(6, '0')}Z`;
  }
}

/**
 * A signed 64-bit series identity (resource, scope, metric name and type, attributes) as
 * decimal text: the dedup key with the point's time. SHA-1 truncated to 64 bits makes a
 * collision between two series practically impossible, unlike the batch's 32-bit hashes.
 */
function identityHash(
  resource: Uint8Array,
  scopeName: string,
  scopeVersion: string,
  name: string,
  type: number,
  attributes: Uint8Array,
): string {
  const digest = createHash('sha1')
    .update(resource)
    .update(`\0${scopeName}\0${scopeVersion}\0${name}\0${type}\0`)
    .update(attributes)
    .digest();
  return digest.readBigInt64BE(0).toString();
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return String(value);
}

function array(values: ArrayLike<number | bigint>): string {
  const parts: string[] = [];
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    parts.push(typeof v === 'bigint' ? v.toString() : number(v));
  }
  return `{${parts.join(',')}}`;
}

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function copyText(text: string): string {
  return /[\\\t\n\r]/.test(text)
    ? text.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
    : text;
}
