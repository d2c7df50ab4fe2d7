import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import { MetricBatch } from '../../model/metric-batch.js';
import { Temporality } from '../../model/types.js';
import type { Processor } from '../processor.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import { SeriesKeys } from '../series-key.js';
import type { IntervalConfig } from './config.js';

/**
 * Lowers the rate of cumulative and gauge data: keeps the latest point of each series and
 * emits them every `interval`. Delta points carry increments, not states, and pass through
 * at once. What the next component refuses at an emit is counted and logged.
 */
export class IntervalProcessor implements Processor {
  readonly id: string;
  readonly #next: Consumer;
  readonly #emitter: ScheduledEmitter;
  #pending = new BatchCopier(new MetricBatch());

  constructor(settings: ComponentSettings, config: IntervalConfig, next: Consumer) {
    this.id = settings.id;
    this.#next = next;
    this.#emitter = new ScheduledEmitter(settings, next, {
      intervalMs: config.interval,
      flush: () => this.flush(),
    });
  }

  /** Points the next component refused at an emit, by reason. */
  get dropped(): Record<string, number> {
    return this.#emitter.dropped;
  }

  async start(): Promise<void> {
    this.#emitter.start();
  }

  async shutdown(): Promise<void> {
    await this.#emitter.stop();
  }

  async consume(batch: MetricBatch): Promise<void> {
    const isDelta = (i: number) =>
      batch.metrics[batch.seriesMetric(batch.points.series[i])].temporality === Temporality.Delta;
    let deltas = 0;
    for (let i = 0; i < batch.pointCount; i++) if (isDelta(i)) deltas++;
    if (deltas < batch.pointCount)
      this.#pending.append(batch, 0, batch.pointCount, { keep: (i) => !isDelta(i) });
    if (deltas === 0) return;
    if (deltas === batch.pointCount) return this.#next.consume(batch);
    const passing = new BatchCopier();
    passing.append(batch, 0, batch.pointCount, { keep: isDelta });
    await this.#next.consume(passing.target);
  }

  /** Emits the latest point of every series held since the last emit. */
  flush(): void {
    const held = this.#pending.target;
    if (held.pointCount === 0) return;
    this.#pending = new BatchCopier(new MetricBatch());
    const keys = new SeriesKeys(held);
    const latest = new Map<string, number>();
    const times = held.points.time.u64;
    for (let i = 0; i < held.pointCount; i++) {
      const key = keys.of(i);
      const previous = latest.get(key);
      if (previous === undefined || times[i] >= times[previous]) latest.set(key, i);
    }
    const keep = new Uint8Array(held.pointCount);
    for (const i of latest.values()) keep[i] = 1;
    const out = new BatchCopier();
    out.append(held, 0, held.pointCount, { keep: (i) => keep[i] === 1 });
    this.#emitter.emit([out.target]);
  }
}
