import { retryDelayMs } from '../../codec/protobuf/rpc-status.js';
import { PermanentError, RetryableError, ThrottleError } from '../../delivery/errors.js';

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
