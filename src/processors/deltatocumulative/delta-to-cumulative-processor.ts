import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { PointView } from '../../model/point-view.js';
import { type MetricDescriptor, MetricType, Temporality } from '../../model/types.js';
import { TransformProcessor } from '../processor-base.js';
import {
  add,
  convertBatch,
  type Emit,
  type SeriesState,
  sameBounds,
  stateOf,
} from '../temporality-state.js';
import type { DeltaToCumulativeConfig } from './config.js';

/**
 * Delta sums and delta histograms become cumulative: a running total per series, starting
 * at the series' first start time. Points not newer than the last one of their series, and
 * new series past `max_streams`, are dropped and counted in `dropped` by reason.
 */
export class DeltaToCumulativeProcessor extends TransformProcessor {
  readonly #config: DeltaToCumulativeConfig;
  readonly #state = new Map<string, SeriesState>();

  constructor(settings: ComponentSettings, config: DeltaToCumulativeConfig, next: Consumer) {
    super(settings, next);
    this.#config = config;
  }

  protected transform(batch: MetricBatch): MetricBatch {
    const now = Date.now();
    for (const [key, state] of this.#state)
      if (now - state.seen > this.#config.max_stale) this.#state.delete(key);
    const applies = (m: MetricDescriptor) =>
      m.temporality === Temporality.Delta &&
      (m.type === MetricType.Sum || m.type === MetricType.Histogram);
    return convertBatch(batch, applies, Temporality.Cumulative, (key, view) =>
      this.#convert(key, view, now),
    );
  }

  #convert(key: string, view: PointView, now: number): Emit {
    const point = stateOf(view, now);
    const total = this.#state.get(key);
    if (!total) {
      if (this.#state.size >= this.#config.max_streams) return this.drop('max_streams');
      const first = { ...point, start: point.start !== 0n ? point.start : point.time };
      this.#state.set(key, first);
      return first;
    }
    if (point.time <= total.time) return this.drop('out_of_order');
    total.time = point.time;
    total.seen = now;
    if (point.counts) {
      if (!sameBounds(point.bounds, total.bounds)) {
        Object.assign(total, point, { start: total.start });
      } else {
        total.counts = total.counts!.map((c, k) => c + (point.counts?.[k] ?? 0));
        total.count = (total.count ?? 0) + (point.count ?? 0);
        total.sum = (total.sum ?? 0) + (point.sum ?? 0);
      }
    } else total.value = add(total.value, point.value);
    return { ...total };
  }
}
