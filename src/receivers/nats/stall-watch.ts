/** What the watch reads of JetStream's consumer info. */
export interface ConsumerCounts {
  /** Messages the consumer has not handed out yet. */
  num_pending: number;
  /** Messages handed out and not acknowledged. */
  num_ack_pending: number;
}

/** What to do about a consumer: nothing, pull again, or pull again and move its leader. */
export type StallVerdict = 'fine' | 'pull-again' | 'step-down';

export interface StallWatchOptions {
  /** How long without a message before the server is asked whether there are any. */
  idleMs: number;
  /** The consumer's ack wait: messages not acknowledged are handed out again after it. */
  ackWaitMs: number;
  /** The consumer's `max_ack_pending`: at it the server hands out nothing more, rightly. */
  maxAckPending: number;
  /**
   * Whether the consumer is this member's alone (a partition's): then messages awaiting
   * acknowledgement that this member does not hold are a dead holder's, due again.
   */
  exclusive: boolean;
  now?: () => number;
}

/**
 * Notices a JetStream pull consumer that the server has messages for but that receives none.
 * The client pulls again only when its pulls come back answered or it misses the server's
 * heartbeats; a pull lost on the way (a consumer leader moved, the client's server died, a
 * reconnect racing a reset) can leave it waiting for good — seen with nats-server 2.9 in a
 * cluster that lost a node: a partition's consumer with hundreds of messages pending and no
 * pull for minutes. The receiver asks the server after `idleMs` without a message; if
 * messages are waiting for this consumer it pulls afresh, and if that did not help either,
 * it also has the consumer's leader step down (which resets the server's side of it).
 */
export class StallWatch {
  readonly #options: StallWatchOptions;
  readonly #now: () => number;
  /** The last message, or the last verdict that acted: where the idle time counts from. */
  #idleSince: number;
  /** When the server was asked last: an idle consumer is asked once per `idleMs`. */
  #lastAsked = Number.NEGATIVE_INFINITY;
  /** Stalls judged since the last message. */
  #stalls = 0;

  constructor(options: StallWatchOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#idleSince = this.#now();
  }

  /** A message arrived. */
  delivered(): void {
    this.#idleSince = this.#now();
    this.#stalls = 0;
  }

  /** How long since the last message (or the last verdict that acted). */
  get idleMs(): number {
    return this.#now() - this.#idleSince;
  }

  /** Whether it has been idle long enough to ask the server (and was not asked just now). */
  get due(): boolean {
    const { idleMs } = this.#options;
    return this.idleMs >= idleMs && this.#now() - this.#lastAsked >= idleMs;
  }

  /**
   * Judges the consumer from the server's counts, with `holding` true while this member
   * holds messages it has not acknowledged yet. Acting restarts the idle clock, so the fresh
   * pull gets its time before the next verdict.
   */
  judge(counts: ConsumerCounts, holding: boolean): StallVerdict {
    const { idleMs, ackWaitMs, maxAckPending, exclusive } = this.#options;
    this.#lastAsked = this.#now();
    const undelivered = counts.num_pending > 0 && counts.num_ack_pending < maxAckPending;
    const notRedelivered =
      exclusive && !holding && counts.num_ack_pending > 0 && this.idleMs >= ackWaitMs + idleMs;
    if (!undelivered && !notRedelivered) return 'fine';
    this.#stalls++;
    this.#idleSince = this.#now();
    return this.#stalls >= 2 ? 'step-down' : 'pull-again';
  }
}
