import { DecodeError } from '../../model/errors.js';
import { readUtf8, utf8Length, writeUtf8 } from '../../model/utf8.js';
import {
  highBits,
  lowBits,
  varint64Size,
  varintSize,
  writeVarint,
  writeVarint64,
} from '../../model/wire.js';
import { WireReader } from '../../model/wire-reader.js';
import { PartialSuccessField, ResponseField } from './otlp-fields.js';

/** `ExportMetricsServiceResponse.partial_success`; both zero/empty means full success. */
export interface MetricsPartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

/** Encodes an `ExportMetricsServiceResponse`; full success is the empty message. */
export function encodeMetricsResponse(partial?: MetricsPartialSuccess): Uint8Array {
  if (!partial || (partial.rejectedDataPoints === 0 && partial.errorMessage === '')) {
    return new Uint8Array(0);
  }
  const lo = lowBits(partial.rejectedDataPoints);
  const hi = highBits(partial.rejectedDataPoints);
  const messageLength = utf8Length(partial.errorMessage);
  const inner =
    (partial.rejectedDataPoints !== 0 ? 1 + varint64Size(lo, hi) : 0) +
    (messageLength !== 0 ? 1 + varintSize(messageLength) + messageLength : 0);
  const out = new Uint8Array(1 + varintSize(inner) + inner);
  out[0] = ResponseField.PartialSuccess;
  let pos = writeVarint(out, 1, inner);
  if (partial.rejectedDataPoints !== 0) {
    out[pos++] = PartialSuccessField.RejectedDataPoints;
    pos = writeVarint64(out, pos, lo, hi);
  }
  if (messageLength !== 0) {
    out[pos++] = PartialSuccessField.ErrorMessage;
    pos = writeVarint(out, pos, messageLength);
    writeUtf8(out, pos, partial.errorMessage, messageLength);
  }
  return out;
}

/** Decodes an `ExportMetricsServiceResponse`; an empty body is full success. */
export function decodeMetricsResponse(bytes: Uint8Array): MetricsPartialSuccess {
  const reader = new WireReader(bytes);
  const result: MetricsPartialSuccess = { rejectedDataPoints: 0, errorMessage: '' };
  const end = bytes.length;
  while (reader.pos < end) {
    const tag = reader.varint32(end);
    if (tag !== ResponseField.PartialSuccess) {
      if (tag >>> 3 === 1) throw new DecodeError(reader.pos, 'partial_success as a message');
      reader.skip(tag & 7, end);
      continue;
    }
    const stop = reader.delimited(end);
    while (reader.pos < stop) {
      const t = reader.varint32(stop);
      if (t === PartialSuccessField.RejectedDataPoints) {
        reader.varint64(stop);
        // int64: a negative count is nonsense, but read it faithfully.
        result.rejectedDataPoints = (reader.hi | 0) * 4294967296 + reader.lo;
      } else if (t === PartialSuccessField.ErrorMessage) {
        const s = reader.delimited(stop);
        result.errorMessage = readUtf8(bytes, reader.pos, s);
        reader.pos = s;
      } else reader.skip(t & 7, stop);
    }
  }
  return result;
}
