/** `closed`: sending; `open`: backend failing, data waits in the queue; `half_open`: one probe. */
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive retryable failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before letting one probe through. */
  resetTimeoutMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = {
  failureThreshold: 5,
  resetTimeoutMs: 30_000,
};

/**
 * A circuit breaker per destination. While open, senders wait (`whenReady`) instead of
 * hammering a backend that is down; after `resetTimeoutMs` one send probes it, and its
 * outcome closes or reopens the breaker.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #onChange: (state: BreakerState, failures: number) => void;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #probeInFlight = false;
  #waiters: (() => void)[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    options: CircuitBreakerOptions,
    onChange: (state: BreakerState, failures: number) => void = () => {},
  ) {
    this.#options = options;
    this.#onChange = onChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Resolves when a send may go out: at once while closed; while open, when the reset
   * timeout ends and this caller gets the single probe slot. `signal` cancels the wait.
   */
  async whenReady(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (signal?.aborted) return;
      if (this.#state === 'closed') return;
      if (this.#state === 'half_open' && !this.#probeInFlight) {
        this.#probeInFlight = true;
        return;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  recordSuccess(): void {
    this.#failures = 0;
    this.#probeInFlight = false;
    if (this.#state !== 'closed') this.#set('closed');
  }

  recordFailure(): void {
    this.#failures++;
    if (this.#state === 'half_open') {
      this.#probeInFlight = false;
      this.#open();
    } else if (this.#state === 'closed' && this.#failures >= this.#options.failureThreshold) {
      this.#open();
    }
  }

  /** Releases waiters and timers (shutdown). */
  close(): void {
    clearTimeout(this.#timer);
    this.#wake();
  }

  #open(): void {
    this.#openedAt = Date.now();
    this.#set('open');
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#set('half_open');
    }, this.#options.resetTimeoutMs);
    this.#timer.unref();
  }

  #set(state: BreakerState): void {
    this.#state = state;
    this.#onChange(state, this.#failures);
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Milliseconds since the breaker last opened (for logs). */
  get openForMs(): number {
    return this.#state === 'closed' ? 0 : Date.now() - this.#openedAt;
  }
}
