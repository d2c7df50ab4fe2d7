import type { MetricBatch } from '../model/metric-batch.js';

/** What a backend said about an accepted request (OTLP `partial_success`). */
export interface SendResult {
  /** Points the backend refused although it accepted the request. */
  rejectedPoints: number;
  message?: string;
}

/**
 * The one thing an exporter writes: turn a batch into a request and send it. Errors are
 * typed — `PermanentError`, `ThrottleError`, anything else is retried — and `signal` aborts
 * on timeout or shutdown. The delivery engine owns queueing, retries and dead letters.
 */
export interface Sender {
  /** Where the data goes, for logs and dead letters (a URL, a file, ...). */
  readonly destination: string;
  send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult>;
  /**
   * Sends an OTLP `ExportMetricsServiceRequest` that is already protobuf (senders that
   * speak OTLP protobuf have it; the engine then carries producers' encoded requests).
   */
  sendEncoded?(request: Uint8Array, signal: AbortSignal): Promise<SendResult>;
  close?(): Promise<void>;
}
