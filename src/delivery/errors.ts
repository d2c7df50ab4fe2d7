import { SluiceError } from '../model/errors.js';

export interface SendErrorOptions {
  /** HTTP status or gRPC code, when the backend answered. */
  status?: number;
  cause?: unknown;
}

/**
 * A send that may succeed if tried again: timeouts, connection errors, HTTP 429/502/503/504,
 * gRPC UNAVAILABLE and friends. Only these are retried.
 */
export class RetryableError extends SluiceError {
  readonly status: number | undefined;
  constructor(message: string, options: SendErrorOptions = {}, code = 'SLUICE_ERR_RETRYABLE') {
    super(code, message, { cause: options.cause });
    this.status = options.status;
  }
}

/** The backend asked us to slow down and said for how long (`Retry-After`, gRPC RetryInfo). */
export class ThrottleError extends RetryableError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, options: SendErrorOptions = {}) {
    super(message, options, 'SLUICE_ERR_THROTTLED');
    this.retryAfterMs = retryAfterMs;
  }
}

/** A send that will fail the same way every time (400, 401, 403, 413, malformed data). */
export class PermanentError extends SluiceError {
  readonly status: number | undefined;
  constructor(message: string, options: SendErrorOptions = {}) {
    super('SLUICE_ERR_PERMANENT', message, { cause: options.cause });
    this.status = options.status;
  }
}

/** The queue is at its limit and `when_full` is `reject`. */
export class QueueFullError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_QUEUE_FULL', message, { stack: false });
  }
}

/** Data offered after shutdown began. */
export class ShutdownError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_SHUT_DOWN', message);
  }
}
