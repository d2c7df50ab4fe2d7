import type { Dispatcher } from 'undici';
import { parseRetryAfter } from '../../delivery/backoff.js';
import { PermanentError, RetryableError, ThrottleError } from '../../delivery/errors.js';
import { readUtf8 } from '../../model/utf8.js';
import { WireReader } from '../../model/wire-reader.js';

/** HTTP statuses the OTLP specification says to retry. Everything else fails for good. */
const RETRYABLE = new Set([429, 502, 503, 504]);

/**
 * Maps a failed OTLP/HTTP response to the error class that tells the delivery engine what
 * to do, keeping the backend's own message (from its `google.rpc.Status` body).
 */
export function errorForHttpStatus(
  status: number,
  body: Uint8Array,
  contentType: string | undefined,
  retryAfter: string | string[] | undefined,
): PermanentError | RetryableError {
  const detail = statusMessage(body, contentType);
  const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (!RETRYABLE.has(status)) return new PermanentError(message, { status });
  const delay = parseRetryAfter(retryAfter);
  return delay === undefined
    ? new RetryableError(message, { status })
    : new ThrottleError(`${message} (retry after ${delay} ms)`, delay, { status });
}

/**
 * The `message` of a `google.rpc.Status` body (protobuf or JSON) or the `error` of a JSON
 * error (InfluxDB's), else the text, trimmed.
 */
export function statusMessage(body: Uint8Array, contentType: string | undefined): string {
  if (body.length === 0) return '';
  try {
    if (contentType?.includes('json')) {
      const parsed = JSON.parse(Buffer.from(body).toString('utf8')) as {
        message?: unknown;
        error?: unknown;
      };
      if (typeof parsed.message === 'string') return parsed.message;
      if (typeof parsed.error === 'string') return parsed.error;
    } else if (contentType?.includes('protobuf')) {
      const reader = new WireReader(body);
      while (reader.pos < body.length) {
        const tag = reader.varint32(body.length);
        if (tag === 0x12) {
          const stop = reader.delimited(body.length);
          return readUtf8(body, reader.pos, stop);
        }
        reader.skip(tag & 7, body.length);
      }
      return '';
    }
  } catch {
    // Not what it claimed to be: fall through to the raw text.
  }
  const text = Buffer.from(body).toString('utf8').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/**
 * Reads a response to the end: its body and content type when the status is 2xx; for any
 * other status, throws the error class the status calls for (with the server's message).
 */
export async function successBody(
  response: Dispatcher.ResponseData,
): Promise<{ body: Uint8Array; contentType: string | undefined }> {
  const body = new Uint8Array(await response.body.arrayBuffer());
  const header = response.headers['content-type'];
  const contentType = Array.isArray(header) ? header[0] : header;
  if (response.statusCode >= 200 && response.statusCode < 300) return { body, contentType };
  throw errorForHttpStatus(response.statusCode, body, contentType, response.headers['retry-after']);
}
