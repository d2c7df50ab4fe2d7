import { requestBytes } from './byte-pool.js';
/**
 * The wire formats requests travel in as bytes: an OTLP `ExportMetricsServiceRequest`
 * (protobuf) or a Prometheus remote write 1.0 `WriteRequest` (uncompressed protobuf). Both
 * top-level messages are one repeated field, so requests of one format join byte for byte.
 */
export type EncodedFormat = 'otlp' | 'prometheus-remote-write';

/**
 * A request already encoded, with what the delivery engine needs to know about it without
 * decoding: a producer that writes requests itself (the SDK exporter) hands these over
 * instead of `MetricBatch`es, the collector's relay carries received requests as they came,
 * and a retry resends the bytes.
 */
export interface EncodedRequest {
  /** `otlp` when absent. */
  format?: EncodedFormat;
  bytes: Uint8Array;
  /**
   * `snappy`: `bytes` are the request snappy-compressed, as a remote-write client sent it —
   * a relay sends it on unchanged, alone (joined with others it would have to be
   * uncompressed and compressed again).
   */
  compression?: 'snappy';
  /**
   * The same OTLP request as its client gzipped it (a relay's, when its exporters send
   * gzip): sent as it is, instead of compressing `bytes` again, when the request goes out
   * alone. Joined with others it is dropped. Gzip members joined end to end are one stream
   * by the format's rules (RFC 1952 §2.2), but some readers stop at the first member and
   * acknowledge the rest unread (Rust's `GzDecoder`, for one), so sluice never sends that.
   */
  gzipped?: Uint8Array;
  /** Data points (OTLP), or samples (remote write). */
  points: number;
  /**
   * 32-bit keys of the request's series whose order matters (all but delta points), for
   * per-series ordering between concurrent sends; `undefined` when none does.
   */
  seriesKeys: Int32Array | undefined;
  /**
   * Requests with the same number hold different series (an SDK collection has one point per
   * series), so they need no ordering among themselves; `undefined` when that is not known.
   */
  collection?: number;
}

/**
 * How a consumer takes encoded requests (`Consumer.encoded`): the formats it carries on as
 * bytes, and the call that takes one (resolving and rejecting as `Consumer.consume`).
 */
export interface EncodedPath {
  readonly formats: readonly EncodedFormat[];
  /**
   * Whether a consumer down this path orders deliveries by `EncodedRequest.seriesKeys` (an
   * exporter's delivery engine): when none does (a scrape endpoint), a relay's check skips
   * gathering them.
   */
  readonly ordersBySeries: boolean;
  /**
   * Whether OTLP requests may bring their bodies as their clients gzipped them
   * (`EncodedRequest.gzipped`): every exporter down this path sends gzip and queues in
   * memory, and sends such a body as it is when the request goes out alone.
   */
  readonly gzip?: boolean;
  consume(request: EncodedRequest): Promise<void>;
  /**
   * The error `consume` would reject any request with now (an exporter's queue full and not
   * waiting for room), or `undefined`: a receiver asks before it decompresses, checks or
   * decodes a request that would go this way, and answers the refusal at once.
   */
  refusing?(): Error | undefined;
}

/**
 * `next`'s encoded path with `before` run on each request first (a processor's check or
 * flush, a counter): what a component that needs no points offers upstream.
 */
export function encodedPathThrough(
  next: { encoded?: EncodedPath },
  before: (request: EncodedRequest) => void,
): EncodedPath | undefined {
  const path = next.encoded;
  if (!path) return undefined;
  return {
    formats: path.formats,
    ordersBySeries: path.ordersBySeries,
    gzip: path.gzip,
    refusing: path.refusing && (() => path.refusing!()),
    // Async, so what `before` throws (a refusal) rejects as `consume` does, never escapes.
    async consume(request) {
      before(request);
      return path.consume(request);
    },
  };
}

/** The format of `request`. */
export function formatOf(request: EncodedRequest): EncodedFormat {
  return request.format ?? 'otlp';
}

/**
 * Gives a request's bytes (and its body as it came, if kept) back to the process's request
 * buffers, once its last holder — a consumer, or the receiver when nothing carried them —
 * is done with them and keeps no view of them.
 */
export function giveBack(request: { bytes: Uint8Array; gzipped?: Uint8Array }): void {
  requestBytes.give(request.bytes);
  if (request.gzipped) requestBytes.give(request.gzipped);
}
