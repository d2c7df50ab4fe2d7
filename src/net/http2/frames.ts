import { SluiceError } from '../../model/errors.js';

/** What HTTP/2 (RFC 9113) puts on the wire that sluice's server reads and writes. */

/** The 24 bytes a client opens every connection with (RFC 9113 §3.4). */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME_HEADER_BYTES = 9;
/** SETTINGS_MAX_FRAME_SIZE at its default, which this server never raises. */
export const MAX_FRAME_BYTES = 16_384;
/** The largest flow-control window (2^31 - 1). */
export const MAX_WINDOW = 0x7fff_ffff;
/** The window every connection and stream starts with before any SETTINGS or WINDOW_UPDATE. */
export const DEFAULT_WINDOW = 65_535;

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/**
 * A breach of the protocol: of the whole connection (answered with GOAWAY and a close) when
 * `stream` is 0, else of one stream (answered with RST_STREAM; the connection goes on).
 * Thrown often by a hostile client, so it carries no stack.
 */
export class Http2Error extends SluiceError {
  /** The HTTP/2 error code sent (`ErrorCode`). */
  readonly errorCode: number;
  readonly stream: number;

  constructor(errorCode: number, message: string, stream = 0) {
    super('SLUICE_ERR_HTTP2', message, { stack: false });
    this.errorCode = errorCode;
    this.stream = stream;
  }
}

/** A frame: its 9-byte header and `payload`. */
export function frame(type: number, flags: number, stream: number, payload?: Uint8Array): Buffer {
  const length = payload?.length ?? 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(out, 0, length, type, flags, stream);
  if (payload) out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function writeFrameHeader(
  out: Buffer,
  at: number,
  length: number,
  type: number,
  flags: number,
  stream: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(stream & MAX_WINDOW, at + 5);
}

export function settingsFrame(settings: [id: number, value: number][]): Buffer {
  const payload = Buffer.allocUnsafe(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  return frame(FrameType.SETTINGS, 0, 0, payload);
}

export function windowUpdateFrame(stream: number, increment: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(increment, 0);
  return frame(FrameType.WINDOW_UPDATE, 0, stream, payload);
}

export function rstStreamFrame(stream: number, code: number): Buffer {
  const payload = Buffer.allocUnsafe(4);
  payload.writeUInt32BE(code, 0);
  return frame(FrameType.RST_STREAM, 0, stream, payload);
}

/** GOAWAY, with what was wrong as its debug data (the peer's logs may show it). */
export function goAwayFrame(lastStream: number, code: number, debug = ''): Buffer {
  const text = Buffer.from(debug.slice(0, 256), 'utf8');
  const payload = Buffer.allocUnsafe(8 + text.length);
  payload.writeUInt32BE(lastStream, 0);
  payload.writeUInt32BE(code, 4);
  payload.set(text, 8);
  return frame(FrameType.GOAWAY, 0, 0, payload);
}
