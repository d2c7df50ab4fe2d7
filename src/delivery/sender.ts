import type { EncodedFormat } from '../model/encoded-request.js';
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
   * `gzipped`: the same request gzip-compressed (a relay's, as its client sent it), for a
   * sender that `sendsGzip` to send instead of compressing `request` again.
   */
  sendEncoded?(request: Uint8Array, signal: AbortSignal, gzipped?: Uint8Array): Promise<SendResult>;
  /**
   * Whether it sends OTLP protobuf gzip-compressed, and so takes `sendEncoded`'s `gzipped`:
   * the engine then keeps a relayed request's gzipped body for it.
   */
  readonly sendsGzip?: boolean;
  /**
   * Sends a Prometheus remote write `WriteRequest` (uncompressed protobuf) as it is: the
   * collector's relay from a remote-write receiver, for senders that speak remote write.
   * `compression: 'snappy'`: `request` is already compressed.
   */
  sendRemoteWrite?(
    request: Uint8Array,
    signal: AbortSignal,
    compression?: 'snappy',
  ): Promise<SendResult>;
  close?(): Promise<void>;
}

/**
 * The formats `sender` sends as they come: OTLP with `sendEncoded`; remote write with
 * `sendRemoteWrite`, through a queue in memory only (the persistent queue's records are
 * OTLP requests).
 */
export function encodedFormats(sender: Sender, persistent: boolean): EncodedFormat[] {
  return [
    ...(sender.sendEncoded ? (['otlp'] as const) : []),
    ...(sender.sendRemoteWrite && !persistent ? (['prometheus-remote-write'] as const) : []),
  ];
}
