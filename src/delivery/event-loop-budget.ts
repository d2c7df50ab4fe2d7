/**
 * How much of one event-loop turn sluice's own heavy work (converting, encoding, merging)
 * may take before it lets timers and I/O run.
 *
 * Yielding per task is not enough: the converter, each consumer and each response handler
 * are separate chains, and chains that yield with `setImmediate` in the same turn all run
 * back to back in the next check phase, so their slices add up to one long stall. With one
 * budget per turn shared by every chain, a turn holds at most the budget plus one step.
 */
export class EventLoopBudget {
  readonly budgetMs: number;
  #turnStart = Number.NEGATIVE_INFINITY;
  readonly #waiters: (() => void)[] = [];
  #scheduled = false;

  constructor(budgetMs = 5) {
    this.budgetMs = budgetMs;
  }

  /**
   * `undefined` while this turn has budget left (no promise on the hot path); otherwise a
   * promise that resolves at the start of a later turn, which then belongs to this caller.
   */
  take(): Promise<void> | undefined {
    if (performance.now() - this.#turnStart < this.budgetMs) return undefined;
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#nextTurn);
  }

  /**
   * Wakes one waiter per turn: waking them all at once would let each pass its check before
   * the first had done any work (their continuations run as queued microtasks), and the
   * turn would hold all their slices again. Scheduled from within the check phase, the
   * next wake-up comes a full loop iteration later, after timers and I/O.
   */
  readonly #nextTurn = (): void => {
    this.#scheduled = false;
    this.#turnStart = performance.now();
    const wake = this.#waiters.shift();
    if (this.#waiters.length > 0) this.#schedule();
    wake?.();
  };
}

/** One event loop per thread, so one budget: every exporter and engine shares it by default. */
export const sharedEventLoopBudget = new EventLoopBudget();
