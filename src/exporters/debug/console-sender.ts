import type { Writable } from 'node:stream';
import { formatNanos } from '../../codec/flat/flat-json-lines.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import { anyValueToPlain } from '../../model/any-value.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { PointView } from '../../model/point-view.js';
import { MetricType } from '../../model/types.js';

/**
 * Prints points one per line, for people: `name{attr="value"} value unit  (kind) time`, with
 * histograms as count, sum and buckets. The SDK's console exporter prints object dumps; this
 * reads like a scrape.
 */
export class ConsoleSender implements Sender {
  readonly destination = 'console';
  readonly #stream: Writable;

  constructor(stream: Writable = process.stdout) {
    this.#stream = stream;
  }

  async send(batch: MetricBatch): Promise<SendResult> {
    let text = '';
    const view = new PointView(batch);
    for (let i = 0; i < batch.pointCount; i++) text += `${formatPoint(view.at(i))}\n`;
    await new Promise<void>((resolve, reject) =>
      this.#stream.write(text, (err) => (err ? reject(err) : resolve())),
    );
    return { rejectedPoints: 0 };
  }
}

export function formatPoint(point: PointView): string {
  const metric = point.metric;
  const labels = point.attributes
    .map((kv) => `${kv.key}=${JSON.stringify(anyValueToPlain(kv.value))}`)
    .join(', ');
  const name = `${metric.name}{${labels}}`;
  const unit = metric.unit ? ` ${metric.unit}` : '';
  const when = formatNanos(point.time);
  switch (metric.type) {
    case MetricType.Gauge:
    case MetricType.Sum: {
      const value = point.exactValue;
      const kind =
        metric.type === MetricType.Gauge
          ? 'gauge'
          : `${metric.monotonic ? 'counter' : 'sum'}, ${temporality(metric.temporality)}`;
      return `${name} ${value === undefined ? '(no value)' : String(value)}${unit}  (${kind}) ${when}`;
    }
    case MetricType.Histogram: {
      const bounds = [...point.bounds];
      const buckets = [...point.bucketCounts].map(
        (c, k) =>
          `${k < bounds.length ? `≤${bounds[k]}` : `>${bounds[bounds.length - 1] ?? ''}`}:${c}`,
      );
      return `${name} count=${point.count} sum=${point.sum ?? '-'}${unit} [${buckets.join(' ')}]  (histogram, ${temporality(metric.temporality)}) ${when}`;
    }
    case MetricType.ExponentialHistogram:
      return `${name} count=${point.count} sum=${point.sum ?? '-'}${unit} scale=${point.scale} zero=${point.zeroCount}  (exponential histogram, ${temporality(metric.temporality)}) ${when}`;
    case MetricType.Summary:
      return `${name} count=${point.count} sum=${point.sum}${unit} ${point.quantiles.map((q) => `q${q.quantile}=${q.value}`).join(' ')}  (summary) ${when}`;
    default:
      return `${name} (no data)`;
  }
}

function temporality(value: number): string {
  return value === 1 ? 'delta' : value === 2 ? 'cumulative' : 'unspecified temporality';
}
