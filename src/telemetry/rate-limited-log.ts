import type { Logger } from 'pino';

interface Pending {
  level: 'warn' | 'error' | 'info';
  message: string;
  fields: Record<string, unknown>;
  events: number;
  /** Points the events concern; undefined for events that are not about points. */
  points: number | undefined;
}

/**
 * Logs an event kind at once the first time, then at most once per interval with what
 * happened since: drops and retries are logged with counts, never once per point or batch.
 */
export class RateLimitedLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #pending = new Map<string, Pending>();
  #last = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, intervalMs = 10_000) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  note(
    kind: string,
    level: Pending['level'],
    message: string,
    fields: Record<string, unknown>,
    points?: number,
  ): void {
    const now = Date.now();
    const last = this.#last.get(kind);
    if (last === undefined || now - last >= this.#intervalMs) {
      this.#last.set(kind, now);
      this.#logger[level]({ ...fields, ...counts(points, 1) }, message);
      return;
    }
    const pending = this.#pending.get(kind);
    if (pending) {
      pending.events++;
      if (points !== undefined) pending.points = (pending.points ?? 0) + points;
      pending.fields = fields;
    } else {
      this.#pending.set(kind, { level, message, fields, events: 1, points });
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), this.#intervalMs - (now - last));
      this.#timer.unref();
    }
  }

  /** Logs everything held back (called by the timer and at shutdown). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [kind, p] of this.#pending) {
      this.#last.set(kind, Date.now());
      this.#logger[p.level](
        { ...p.fields, ...counts(p.points, p.events) },
        `${p.message} (${p.events} times since last report)`,
      );
    }
    this.#pending.clear();
  }
}

function counts(points: number | undefined, events: number) {
  return points === undefined ? { events } : { points, events };
}
