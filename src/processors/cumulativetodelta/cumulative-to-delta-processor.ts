import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { PointView } from '../../model/point-view.js';
import { type MetricDescriptor, MetricType, Temporality } from '../../model/types.js';
import { nameFilter } from '../metric-match.js';
import { TransformProcessor } from '../processor-base.js';
import {
  convertBatch,
  type Emit,
  type SeriesState,
  sameBounds,
  stateOf,
  subtract,
} from '../temporality-state.js';
import type { CumulativeToDeltaConfig } from './config.js';

/**
 * Cumulative monotonic sums and cumulative histograms become deltas: each point minus the
 * previous one of its series, starting where that one ended. A value that went down is a
 * reset: the new cumulative value is the delta and its own start time stands. Points older
 * than the last seen (`out_of_order`) and first points `initial_value` drops are counted in
 * `dropped` by reason.
 */
export class CumulativeToDeltaProcessor extends TransformProcessor {
  readonly #config: CumulativeToDeltaConfig;
  readonly #names: (name: string) => boolean;
  readonly #state = new Map<string, SeriesState>();
  readonly #startedAt = BigInt(Date.now()) * 1_000_000n;

  constructor(settings: ComponentSettings, config: CumulativeToDeltaConfig, next: Consumer) {
    super(settings, next);
    this.#config = config;
    this.#names = nameFilter(config.include, config.exclude);
  }

  protected transform(batch: MetricBatch): MetricBatch {
    const now = Date.now();
    this.#expire(now);
    const applies = (m: MetricDescriptor) =>
      m.temporality === Temporality.Cumulative &&
      ((m.type === MetricType.Sum && m.monotonic) || m.type === MetricType.Histogram) &&
      this.#names(m.name);
    return convertBatch(batch, applies, Temporality.Delta, (key, view) =>
      this.#convert(key, view, now),
    );
  }

  #convert(key: string, view: PointView, now: number): Emit {
    const current = stateOf(view, now);
    const previous = this.#state.get(key);
    this.#state.set(key, current);
    if (!previous) {
      const { initial_value: initial } = this.#config;
      const keep =
        initial === 'keep' ||
        (initial === 'auto' && current.start !== 0n && current.start >= this.#startedAt);
      return keep ? current : this.drop('initial_value');
    }
    if (current.time <= previous.time) {
      this.#state.set(key, previous);
      return this.drop('out_of_order');
    }
    if (current.counts) {
      const reset =
        !sameBounds(current.bounds, previous.bounds) ||
        (current.count ?? 0) < (previous.count ?? 0) ||
        current.counts.some((c, k) => c < (previous.counts?.[k] ?? 0));
      if (reset) return current;
      return {
        ...current,
        start: previous.time,
        counts: current.counts.map((c, k) => c - (previous.counts?.[k] ?? 0)),
        count: (current.count ?? 0) - (previous.count ?? 0),
        sum: (current.sum ?? 0) - (previous.sum ?? 0),
      };
    }
    if (current.value < previous.value) return current; // reset
    return { ...current, start: previous.time, value: subtract(current.value, previous.value) };
  }

  #expire(now: number): void {
    const limit = this.#config.max_staleness;
    if (limit <= 0) return;
    for (const [key, state] of this.#state) if (now - state.seen > limit) this.#state.delete(key);
  }
}
