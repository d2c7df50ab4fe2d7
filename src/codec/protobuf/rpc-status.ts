import { readUtf8 } from '../../model/utf8.js';
import { varintSize, writeVarint } from '../../model/wire.js';
import { WireReader } from '../../model/wire-reader.js';

/**
 * `google.rpc.Status` with a `google.rpc.RetryInfo` detail: what a gRPC server sends in the
 * `grpc-status-details-bin` trailer to tell a client how long to wait before it retries
 * (the OTLP specification's throttling for RESOURCE_EXHAUSTED and UNAVAILABLE). The
 * receiver writes it, the exporters read it.
 */
const RETRY_INFO = 'type.googleapis.com/google.rpc.RetryInfo';
const RETRY_INFO_BYTES = new TextEncoder().encode(RETRY_INFO);

/** `Status { code, details: [Any { RetryInfo { retry_delay: { seconds } } }] }`. */
export function encodeRetryInfoStatus(code: number, delaySeconds: number): Uint8Array {
  const seconds = Math.max(0, Math.floor(delaySeconds));
  const duration = 1 + varintSize(seconds); // Duration { seconds = 1 }
  const info = 1 + varintSize(duration) + duration; // RetryInfo { retry_delay = 1 }
  const any =
    1 + varintSize(RETRY_INFO_BYTES.length) + RETRY_INFO_BYTES.length + 1 + varintSize(info) + info;
  const out = new Uint8Array(1 + varintSize(code) + 1 + varintSize(any) + any);
  let pos = 0;
  out[pos++] = 0x08; // Status.code
  pos = writeVarint(out, pos, code);
  out[pos++] = 0x1a; // Status.details
  pos = writeVarint(out, pos, any);
  out[pos++] = 0x0a; // Any.type_url
  pos = writeVarint(out, pos, RETRY_INFO_BYTES.length);
  out.set(RETRY_INFO_BYTES, pos);
  pos += RETRY_INFO_BYTES.length;
  out[pos++] = 0x12; // Any.value
  pos = writeVarint(out, pos, info);
  out[pos++] = 0x0a; // RetryInfo.retry_delay
  pos = writeVarint(out, pos, duration);
  out[pos++] = 0x08; // Duration.seconds
  writeVarint(out, pos, seconds);
  return out;
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
