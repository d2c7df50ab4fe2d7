import { decodeMetricsRequest } from '../../codec/protobuf/decode-request.js';
import { encodeMetricsRequest } from '../../codec/protobuf/encode-request.js';
import { BatchCopier } from '../../model/batch-copier.js';
import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import { MetricBatch } from '../../model/metric-batch.js';
import { noteUnreadable, type StateStore, storageOf } from '../../model/storage.js';
import { Temporality } from '../../model/types.js';
import type { Processor } from '../processor.js';
import { ScheduledEmitter } from '../scheduled-emitter.js';
import { SeriesKeys } from '../series-key.js';
import type { IntervalConfig } from './config.js';

const NOTHING = new Uint8Array(0);

/**
 * Lowers the rate of cumulative and gauge data: keeps the latest point of each series and
 * emits them every `interval`. Delta points carry increments, not states, and pass through
 * at once. What the next component refuses at an emit is counted and logged.
 *
 * With `storage`, what it holds outlives the process: every batch it keeps is journaled
 * before `consume` resolves, and an emit the next component accepted drops the journal up to
 * it; a restart loads what was held and emits it with the next interval.
 */
export class IntervalProcessor implements Processor {
  readonly id: string;
  readonly #next: Consumer;
  readonly #emitter: ScheduledEmitter;
  readonly #store: StateStore | undefined;
  /** See `Processor.unreadableState`. */
  unreadableState = 0;
  readonly #settings: ComponentSettings;
  #pending = new BatchCopier(new MetricBatch());

  constructor(settings: ComponentSettings, config: IntervalConfig, next: Consumer) {
    this.id = settings.id;
    this.#settings = settings;
    this.#next = next;
    this.#emitter = new ScheduledEmitter(settings, next, {
      intervalMs: config.interval,
      flush: () => this.flush(),
    });
    if (config.storage) {
      this.#store = storageOf(settings, config.storage).stateStore('processor', settings.id);
    }
  }

  /** Points the next component refused at an emit, by reason. */
  get dropped(): Record<string, number> {
    return this.#emitter.dropped;
  }

  async start(): Promise<void> {
    if (this.#store) {
      const stored = await this.#store.load();
      this.unreadableState += noteUnreadable(this.#settings.logger, this.id, stored);
      for (const entry of stored.entries) {
        const batch = decodeMetricsRequest(entry);
        this.#pending.append(batch, 0, batch.pointCount);
      }
      this.#settings.logger.info(
        {
          processor: this.id,
          points: this.#pending.target.pointCount,
          corrupt: stored.corrupt,
        },
        'interval: points held before the restart restored from storage',
      );
    }
    this.#emitter.start();
  }

  async shutdown(): Promise<void> {
    await this.#emitter.stop();
    await this.#store?.close();
  }

  async consume(batch: MetricBatch): Promise<void> {
    const isDelta = (i: number) =>
      batch.metrics[batch.seriesMetric(batch.points.series[i])].temporality === Temporality.Delta;
    let deltas = 0;
    for (let i = 0; i < batch.pointCount; i++) if (isDelta(i)) deltas++;
    if (deltas < batch.pointCount) {
      if (this.#store) {
        const held = deltas === 0 ? batch : part(batch, (i) => !isDelta(i));
        this.#pending.append(held, 0, held.pointCount);
        await this.#store.append(encodeMetricsRequest(held));
      } else {
        this.#pending.append(batch, 0, batch.pointCount, { keep: (i) => !isDelta(i) });
      }
    }
    if (deltas === 0) return;
    if (deltas === batch.pointCount) return this.#next.consume(batch);
    await this.#next.consume(part(batch, isDelta));
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
    // What was journaled up to now is in this emit: once it is accepted, it may go.
    const store = this.#store;
    const through = store?.lastSeq ?? 0;
    this.#emitter.emit([out.target], () => {
      store
        ?.snapshot(NOTHING, through)
        .catch((err: Error) =>
          this.#settings.logger.warn(
            { processor: this.id, error: err.message },
            'interval: journal not cut after an emit; a restart may emit those points again',
          ),
        );
    });
  }
}

/** The points of `batch` that `keep` selects, as a batch of their own. */
function part(batch: MetricBatch, keep: (i: number) => boolean): MetricBatch {
  const copier = new BatchCopier();
  copier.append(batch, 0, batch.pointCount, { keep });
  return copier.target;
}
