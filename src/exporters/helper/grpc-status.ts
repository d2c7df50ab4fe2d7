import { PermanentError, RetryableError, ThrottleError } from '../../delivery/errors.js';
import { readUtf8 } from '../../model/utf8.js';
import { WireReader } from '../../model/wire-reader.js';

/** gRPC status codes the OTLP specification says to retry (RESOURCE_EXHAUSTED only with RetryInfo). */
const RETRYABLE = new Set([
  1, // CANCELLED
  4, // DEADLINE_EXCEEDED
  10, // ABORTED
  11, // OUT_OF_RANGE
  14, // UNAVAILABLE
  15, // DATA_LOSS
]);
const RESOURCE_EXHAUSTED = 8;
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * Maps a failed OTLP/gRPC call to the error class that tells the delivery engine what to do.
 * `statusDetails` is the `grpc-status-details-bin` trailer (a `google.rpc.Status`), which
 * may carry a `RetryInfo` with the delay the server asks for.
 */
export function errorForGrpcStatus(
  code: number,
  details: string,
  statusDetails: Uint8Array | undefined,
): PermanentError | RetryableError {
  const message = `gRPC ${code}${details ? `: ${details}` : ''}`;
  const retryDelay = statusDetails ? retryDelayMs(statusDetails) : undefined;
  if (retryDelay !== undefined && (RETRYABLE.has(code) || code === RESOURCE_EXHAUSTED)) {
    return new ThrottleError(`${message} (retry after ${retryDelay} ms)`, retryDelay, {
      status: code,
    });
  }
  if (RETRYABLE.has(code)) return new RetryableError(message, { status: code });
  return new PermanentError(message, { status: code });
}

/** The `RetryInfo.retry_delay` inside a `google.rpc.Status`, in milliseconds. */
export function retryDelayMs(status: Uint8Array): number | undefined {
  try {
    const reader = new WireReader(status);
    const end = status.length;
    while (reader.pos < end) {
      const tag = reader.varint32(end);
      if (tag !== 0x1a) {
        reader.skip(tag & 7, end);
        continue;
      }
      // details: google.protobuf.Any { type_url = 1; value = 2 }
      const anyEnd = reader.delimited(end);
      let typeUrl = '';
      let valueStart = -1;
      let valueEnd = -1;
      while (reader.pos < anyEnd) {
        const t = reader.varint32(anyEnd);
        if (t === 0x0a) {
          const stop = reader.delimited(anyEnd);
          typeUrl = readUtf8(status, reader.pos, stop);
          reader.pos = stop;
        } else if (t === 0x12) {
          valueEnd = reader.delimited(anyEnd);
          valueStart = reader.pos;
          reader.pos = valueEnd;
        } else reader.skip(t & 7, anyEnd);
      }
      if (typeUrl === RETRY_INFO && valueStart >= 0)
        return durationMs(status, valueStart, valueEnd);
    }
  } catch {
    // A malformed trailer carries no usable delay.
  }
  return undefined;
}

/** `RetryInfo { google.protobuf.Duration retry_delay = 1 }` → milliseconds. */
function durationMs(bytes: Uint8Array, start: number, end: number): number | undefined {
  const reader = new WireReader(bytes);
  reader.pos = start;
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag !== 0x0a) {
      reader.skip(tag & 7, end);
      continue;
    }
    const stop = reader.delimited(end);
    let seconds = 0;
    let nanos = 0;
    while (reader.pos < stop) {
      const t = reader.varint32(stop);
      if (t === 0x08) {
        reader.varint64(stop);
        seconds = reader.hi * 4294967296 + reader.lo;
      } else if (t === 0x10) nanos = reader.varint32(stop) | 0;
      else reader.skip(t & 7, stop);
    }
    return seconds * 1000 + Math.round(nanos / 1e6);
  }
  return undefined;
}
