/**
 * What gRPC puts on HTTP/2 that both sides of sluice's unary calls need: status codes, the
 * 5-byte message prefix, and the percent-encoding of `grpc-message`.
 */

/** gRPC status codes (the ones sluice's listener and client name). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** How a call ends: its status, and the response message when OK. */
export interface GrpcAnswer {
  code: number;
  /** Sent as `grpc-message`. */
  message?: string;
  /** The response message (OK only). */
  response?: Uint8Array;
  /** A serialized `google.rpc.Status`, sent as `grpc-status-details-bin`. */
  details?: Uint8Array;
}

/** The length prefix of one message: a compressed flag, then the length (big-endian u32). */
export function messagePrefix(length: number, compressed: boolean): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed ? 1 : 0;
  prefix.writeUInt32BE(length, 1);
  return prefix;
}

/** `grpc-message` is percent-encoded: bytes outside printable ASCII, and `%` itself. */
export function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** A `grpc-message` as sent, decoded; text that is not valid percent-encoding is kept as it is. */
export function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The gRPC status of an answer that carries none, from its HTTP status (gRPC's
 * "HTTP to gRPC status code mapping"): a proxy or a server that is not gRPC answered.
 */
export function statusOfHttp(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** Headers HTTP/2 forbids (RFC 9113 §8.2.2), and those gRPC's own framing sends. */
const RESERVED_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'content-type',
  'grpc-encoding',
  'grpc-accept-encoding',
]);

/**
 * Whether `name` (any case) can be sent as gRPC metadata: lower-cased, gRPC's characters
 * (letters, digits, `-`, `_`, `.`), and not a header HTTP/2 or gRPC's framing reserves.
 */
export function isMetadataName(name: string): boolean {
  const lower = name.toLowerCase();
  return /^[0-9a-z_.-]+$/.test(lower) && !RESERVED_HEADERS.has(lower);
}

/** What `isMetadataName` refuses, said for a config error. */
export const METADATA_NAME_RULE =
  'gRPC metadata names: letters, digits, "-", "_" and ".", not an HTTP/2 connection header nor one gRPC sets itself';
