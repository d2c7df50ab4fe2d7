import type { ComponentSettings, Consumer } from '../model/consumer.js';
import type { MetricBatch } from '../model/metric-batch.js';
import { OneAtATime } from '../model/one-at-a-time.js';
import { countDrop } from './processor.js';

/** A processor's own flush, and how often to call it. */
export interface Schedule {
  intervalMs: number;
  flush: () => void;
}

/**
 * Hands batches a processor emits on its own schedule (a flush, an interval) to the next
 * component, one after the other. Nobody waits on these calls, so what the next component
 * refuses is counted in `dropped` by reason and logged: never lost silently.
 */
export class ScheduledEmitter {
  /** Points dropped, by reason (refusals from downstream, and whatever the owner counts). */
  readonly dropped: Record<string, number> = {};
  readonly #next: Consumer;
  readonly #settings: ComponentSettings;
  /** Emits and forwards hand batches on one after the other. */
  readonly #handOns = new OneAtATime();
  readonly #schedule: Schedule | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(settings: ComponentSettings, next: Consumer, schedule?: Schedule) {
    this.#settings = settings;
    this.#next = next;
    this.#schedule = schedule;
  }

  /** `accepted` runs once the next component accepted every one of `batches`. */
  emit(batches: MetricBatch[], accepted?: () => void): void {
    void this.#handOns.run(async () => {
      let refused = false;
      for (const batch of batches) {
        try {
          await this.#next.consume(batch);
        } catch (err) {
          refused = true;
          const reason =
            (err as { code?: string }).code === 'SLUICE_ERR_QUEUE_FULL'
              ? 'queue_full'
              : 'refused_downstream';
          this.count(reason, batch.pointCount);
          this.#settings.logger.error(
            {
              processor: this.#settings.id,
              points: batch.pointCount,
              reason,
              error: (err as Error).message,
            },
            `${this.#settings.id}: the next component refused a batch; points dropped`,
          );
        }
      }
      if (!refused) accepted?.();
    });
  }

  /**
   * Hands `batches` on in turn like `emit`, for a caller that waits for the outcome: resolves
   * once all were accepted, rejects with the first refusal (the rest is not sent; the caller
   * tells its own sender, who retries), and counts nothing as dropped.
   */
  forward(batches: MetricBatch[]): Promise<void> {
    return this.#handOns.run(async () => {
      for (const batch of batches) await this.#next.consume(batch);
    });
  }

  count(reason: string, points: number): void {
    countDrop(this.dropped, reason, points);
  }

  /** Starts the schedule: `flush` every `intervalMs`, without keeping the process alive. */
  start(): void {
    if (!this.#schedule) return;
    this.#timer = setInterval(this.#schedule.flush, this.#schedule.intervalMs);
    this.#timer.unref();
  }

  /** Ends the schedule, flushes once more, and resolves once all of it was handed on. */
  stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#schedule?.flush();
    return this.settled();
  }

  /** Resolves once everything emitted so far was handed on (shutdown). */
  async settled(): Promise<void> {
    await this.#handOns.idle();
  }
}
