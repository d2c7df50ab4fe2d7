import type { ComponentSettings, Consumer } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { PointView } from '../../model/point-view.js';
import { noteUnreadable, type StateStore, storageOf } from '../../model/storage.js';
import { type MetricDescriptor, MetricType, Temporality } from '../../model/types.js';
import { PartitionProgress, partitionGoneQuietly } from '../partition-progress.js';
import { TransformProcessor } from '../processor-base.js';
import {
  add,
  convertBatch,
  decodeStates,
  type Emit,
  encodeStates,
  type SeriesState,
  sameBounds,
  stateOf,
} from '../temporality-state.js';
import type { DeltaToCumulativeConfig } from './config.js';

/** A snapshot replaces the journal once it outgrows this, or twice the last snapshot. */
const SNAPSHOT_AFTER_BYTES = 1024 * 1024;
/** In a partition's chain: how soon a snapshot follows a message the source waits to forget. */
const PARTITION_SNAPSHOT_DELAY_MS = 1_000;

/**
 * Delta sums and delta histograms become cumulative: a running total per series, starting
 * at the series' first start time. Points not newer than the last one of their series, and
 * new series past `max_streams`, are dropped and counted in `dropped` by reason.
 *
 * With `storage`, the totals outlive the process: once the next component accepted a batch,
 * the totals it changed are journaled (before `consume` resolves, so nothing acknowledged
 * is missing from the journal), with a snapshot of all of them now and then; a restart
 * loads them and continues every series without a reset.
 *
 * In a partition's chain (`ComponentSettings.partition`) the totals are the partition's and
 * move with it: snapshotted to its store a second after a message the source waits to forget
 * (`settled`), which it forgets only then; a member that takes the partition over loads them,
 * skips the messages handed over again that they hold, and applies the others — the totals
 * it emits for those are the ones already emitted, if any were.
 */
export class DeltaToCumulativeProcessor extends TransformProcessor {
  readonly #config: DeltaToCumulativeConfig;
  readonly #state = new Map<string, SeriesState>();
  readonly #store: StateStore | undefined;
  /** See `Processor.unreadableState`. */
  unreadableState = 0;
  /** The totals the running `transform` changed, when they are journaled. */
  #touched: Map<string, SeriesState> | undefined;
  #snapshotBytes = 0;
  #snapshotting = false;
  /** In a partition's chain: the messages its totals hold (see `PartitionProgress`). */
  readonly #progress: PartitionProgress | undefined;
  #snapshotTimer: NodeJS.Timeout | undefined;
  /** The snapshot being written. */
  #saving: Promise<void> | undefined;
  /** In a partition's chain: resolves once a snapshot holds everything accepted so far. */
  readonly settled?: () => Promise<void>;

  constructor(settings: ComponentSettings, config: DeltaToCumulativeConfig, next: Consumer) {
    super(settings, next);
    this.#config = config;
    if (settings.partition) {
      const progress = new PartitionProgress(settings.partition, settings.id);
      this.#progress = progress;
      this.#store = progress.store;
      this.settled = async () => {
        this.#snapshotSoon();
        await progress.settled();
        await next.settled?.();
      };
    } else if (config.storage) {
      this.#store = storageOf(settings, config.storage).stateStore('processor', settings.id);
    }
  }

  /** Series tracked now. */
  get series(): number {
    return this.#state.size;
  }

  override async start(): Promise<void> {
    if (!this.#store) return;
    const stored = await this.#store.load();
    this.unreadableState += noteUnreadable(this.settings.logger, this.id, stored);
    if (stored.snapshot)
      for (const [key, state] of decodeStates(stored.snapshot)) this.#state.set(key, state);
    for (const entry of stored.entries) {
      // Journaled in the order batches were accepted downstream, not converted: the newest
      // total of a series is the one with the latest time.
      for (const [key, state] of decodeStates(entry)) {
        const known = this.#state.get(key);
        if (!known || state.time > known.time) this.#state.set(key, state);
      }
    }
    this.settings.logger.info(
      { processor: this.id, series: this.#state.size, corrupt: stored.corrupt },
      'deltatocumulative: totals restored from storage',
    );
  }

  override async shutdown(): Promise<void> {
    clearTimeout(this.#snapshotTimer);
    while (this.#saving) await this.#saving;
    if (this.#progress?.unsaved) await this.#savePartition();
    this.#progress?.close();
    await this.#store?.close();
  }

  override async consume(batch: MetricBatch): Promise<void> {
    if (this.#progress) return this.#consumePartition(this.#progress, batch);
    if (!this.#store) return super.consume(batch);
    const { touched, forwarded } = this.#convertTouching(batch);
    await forwarded;
    if (touched.size === 0) return;
    await this.#store.append(encodeStates(touched));
    this.#snapshotWhenDue();
  }

  /**
   * A partition's batch: skipped when the restored totals hold its message already; else
   * converted, the message noted as applied as the totals change (synchronously, so that a
   * snapshot taken while the batch is handed on lists it).
   */
  async #consumePartition(progress: PartitionProgress, batch: MetricBatch): Promise<void> {
    if (progress.redelivered) {
      this.drop('redelivered', batch.pointCount);
      return;
    }
    const { touched, forwarded } = this.#convertTouching(batch);
    if (touched.size > 0) {
      progress.applied();
      if (progress.pressed) this.#snapshotSoon();
    }
    await forwarded;
  }

  /**
   * Converts and hands on `batch`, collecting the totals it changed. `transform` runs
   * synchronously at the start of `super.consume`, before its first await: the totals are
   * this batch's alone, and complete when this returns.
   */
  #convertTouching(batch: MetricBatch): {
    touched: Map<string, SeriesState>;
    forwarded: Promise<void>;
  } {
    const touched = new Map<string, SeriesState>();
    this.#touched = touched;
    const forwarded = super.consume(batch);
    this.#touched = undefined;
    return { touched, forwarded };
  }

  /** In a partition's chain: a snapshot soon, of whatever was applied by then. */
  #snapshotSoon(): void {
    if (this.#snapshotTimer || !this.#progress?.unsaved) return;
    this.#snapshotTimer = setTimeout(
      () => {
        this.#snapshotTimer = undefined;
        void this.#savePartition();
      },
      // At once when the source nears the messages it hands over at most.
      this.#progress.pressed ? 0 : PARTITION_SNAPSHOT_DELAY_MS,
    );
  }

  /** Snapshots the partition's totals (written after the snapshots before it). */
  #savePartition(): Promise<void> {
    const progress = this.#progress!;
    const saving = progress
      .save(encodeStates(this.#state))
      .then(() => {})
      .catch((err: Error) => {
        if (partitionGoneQuietly(progress, err)) return;
        this.settings.logger.warn(
          { processor: this.id, error: err.message },
          'deltatocumulative: partition state snapshot failed; its messages stay unacknowledged and are handed out again',
        );
      })
      .finally(() => {
        if (this.#saving === saving) this.#saving = undefined;
        // Messages applied while it was written wait for the next one.
        if (progress.unsaved && !progress.gone) this.#snapshotSoon();
      });
    this.#saving = saving;
    return saving;
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
      return this.#changed(key, first);
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
    return this.#changed(key, total);
  }

  /** What to emit for a changed total: a copy (also journaled when there is storage). */
  #changed(key: string, total: SeriesState): SeriesState {
    const copy = { ...total };
    this.#touched?.set(key, copy);
    return copy;
  }

  /** A snapshot of every total once the journal outgrew the last one; it then starts anew. */
  #snapshotWhenDue(): void {
    const store = this.#store!;
    if (this.#snapshotting) return;
    if (store.journalBytes < Math.max(SNAPSHOT_AFTER_BYTES, 2 * this.#snapshotBytes)) return;
    this.#snapshotting = true;
    const through = store.lastSeq;
    const state = encodeStates(this.#state);
    this.#snapshotBytes = state.length;
    store
      .snapshot(state, through)
      .catch((err: Error) =>
        this.settings.logger.warn(
          { processor: this.id, error: err.message },
          'deltatocumulative: state snapshot failed; the journal keeps growing',
        ),
      )
      .finally(() => {
        this.#snapshotting = false;
      });
  }
}
