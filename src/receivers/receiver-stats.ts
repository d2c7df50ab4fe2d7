/** Counters of one receiver: what came in, what the pipeline accepted, what was refused and why. */
export class ReceiverStats {
  requests = 0;
  /** Points decoded from requests. */
  received = 0;
  /** Points the pipeline accepted. */
  accepted = 0;
  /** Points refused (the sender was told to retry or that the data is bad), by reason. */
  readonly refused: Record<string, number> = {};
  /** Requests that could not be decoded. */
  malformed = 0;

  refuse(reason: string, points: number): void {
    this.refused[reason] = (this.refused[reason] ?? 0) + points;
  }
}

const REFUSAL_REASONS: Record<string, string> = {
  SLUICE_ERR_QUEUE_FULL: 'queue_full',
  SLUICE_ERR_MEMORY_LIMIT: 'memory_limit',
  SLUICE_ERR_SHUT_DOWN: 'shutdown',
};

/** Why the pipeline refused a batch, as a `refused` reason: from the error's code. */
export function refusalReason(err: unknown): string {
  return REFUSAL_REASONS[(err as { code?: string }).code ?? ''] ?? 'pipeline_error';
}
