/** Counters of one delivery engine; every point accepted ends in exactly one of the outcomes. */
export class DeliveryStats {
  /** Points accepted into the queue. */
  accepted = 0;
  /** Points the backend accepted. */
  sent = 0;
  /** Points the backend refused in a partial success (counted, logged, not retried). */
  rejected = 0;
  /** Points written to the dead-letter directory, by reason. */
  readonly deadLettered: Record<string, number> = {};
  /** Points lost (no dead-letter directory, or it failed), by reason. */
  readonly dropped: Record<string, number> = {};
  /** Points refused at the door (queue full, shut down); the caller was told. */
  readonly refused: Record<string, number> = {};
  /** Send attempts that failed and were retried. */
  retries = 0;
  /** Requests sent, including retries. */
  requests = 0;

  /** Points accepted but not yet delivered, dead-lettered or dropped. */
  get inFlight(): number {
    return this.accepted - this.sent - this.rejected - sum(this.deadLettered) - sum(this.dropped);
  }

  toJSON(): Record<string, unknown> {
    return {
      accepted: this.accepted,
      sent: this.sent,
      rejected: this.rejected,
      deadLettered: { ...this.deadLettered },
      dropped: { ...this.dropped },
      refused: { ...this.refused },
      retries: this.retries,
      requests: this.requests,
    };
  }
}

export function add(counters: Record<string, number>, reason: string, points: number): void {
  counters[reason] = (counters[reason] ?? 0) + points;
}

function sum(counters: Record<string, number>): number {
  let total = 0;
  for (const key in counters) total += counters[key];
  return total;
}
