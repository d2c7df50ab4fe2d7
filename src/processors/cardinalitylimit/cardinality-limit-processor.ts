import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import { bytesKey } from '../../model/key-value-bytes.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { AggregateProcessor } from '../aggregate/aggregate-processor.js';
import type { Processor } from '../processor.js';
import { SeriesKeys } from '../series-key.js';
import type { CardinalityLimitConfig } from './config.js';

const OVERFLOW = [{ key: 'otel.metric.overflow', value: true }];

/**
 * Caps the series of each metric at `max_series`: the first `max_series - 1` distinct
 * attribute sets pass through, points of any further series are merged into one series
 * with the attribute `otel.metric.overflow=true`, as the OpenTelemetry SDK specification
 * does. Merging uses the aggregate processor (sums add, cumulative members through resets,
 * histograms bucket-wise, gauges keep the last value) and is emitted every
 * `overflow_interval`. Overflowed points are counted in `overflowed` and logged once per
 * metric; on `/metrics` they are `dropped` points of reason `cardinality_overflow` (their
 * series is gone, their values live on in the overflow series).
 */
export class CardinalityLimitProcessor implements Processor {
  readonly id: string;
  overflowed = 0;
  readonly #config: CardinalityLimitConfig;
  readonly #next: Consumer;
  readonly #settings: ComponentSettings;
  readonly #admitted = new Map<string, Set<string>>();
  readonly #warned = new Set<string>();
  readonly #overflow: AggregateProcessor;

  constructor(settings: ComponentSettings, config: CardinalityLimitConfig, next: Consumer) {
    this.id = settings.id;
    this.#settings = settings;
    this.#config = config;
    this.#next = next;
    const tagged: Consumer = {
      consume: async (batch) => {
        const copier = new BatchCopier();
        copier.append(batch, 0, batch.pointCount, { mapAttributes: () => OVERFLOW });
        await next.consume(copier.target);
      },
    };
    this.#overflow = new AggregateProcessor(
      { id: `${settings.id}/overflow`, logger: settings.logger },
      {
        interval: config.overflow_interval,
        max_stale: 300_000,
        rules: [{ metrics: ['*'], group_by: [], gauge: 'last' }],
      },
      tagged,
    );
  }

  /** Points whose series was over the limit, and what the overflow series lost, by reason. */
  get dropped(): Readonly<Record<string, number>> {
    const dropped = { ...this.#overflow.dropped };
    if (this.overflowed > 0) dropped.cardinality_overflow = this.overflowed;
    return dropped;
  }

  async start(): Promise<void> {
    await this.#overflow.start();
  }

  async shutdown(): Promise<void> {
    await this.#overflow.shutdown();
  }

  async consume(batch: MetricBatch): Promise<void> {
    const keys = new SeriesKeys(batch);
    const limit = this.#config.max_series - 1;
    const over = new Uint8Array(batch.pointCount);
    let overflowed = 0;
    for (let i = 0; i < batch.pointCount; i++) {
      const series = batch.points.series[i];
      const m = batch.seriesMetric(series);
      const metricKey = keys.metricPrefix(m);
      let admitted = this.#admitted.get(metricKey);
      if (!admitted) {
        admitted = new Set();
        this.#admitted.set(metricKey, admitted);
      }
      const attributes = bytesKey(batch.attributes.bytes(batch.seriesAttributes(series)));
      if (admitted.has(attributes)) continue;
      if (admitted.size < limit) {
        admitted.add(attributes);
        continue;
      }
      over[i] = 1;
      overflowed++;
      const name = batch.metrics[m].name;
      if (!this.#warned.has(metricKey)) {
        this.#warned.add(metricKey);
        this.#settings.logger.warn(
          { processor: this.id, metric: name, maxSeries: this.#config.max_series },
          'cardinality limit reached: further series go to the overflow series (otel.metric.overflow=true)',
        );
      }
    }
    if (overflowed === 0) return this.#next.consume(batch);
    this.overflowed += overflowed;
    const overflow = new BatchCopier();
    overflow.append(batch, 0, batch.pointCount, { keep: (i) => over[i] === 1 });
    await this.#overflow.consume(overflow.target);
    if (overflowed === batch.pointCount) return;
    const kept = new BatchCopier();
    kept.append(batch, 0, batch.pointCount, { keep: (i) => over[i] === 0 });
    await this.#next.consume(kept.target);
  }

  /** Emits the merged overflow series now (the timer does it every `overflow_interval`). */
  flushOverflow(): void {
    this.#overflow.flush();
  }
}
