import { DecodeError } from '../../model/errors.js';
import type { MetricsPartialSuccess } from '../protobuf/response.js';

/** OTLP/JSON `ExportMetricsServiceResponse` → partial success (empty object: full success). */
export function decodeMetricsRequestJsonResponse(
  input: string | Uint8Array,
): MetricsPartialSuccess {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  let parsed: unknown;
  try {
    parsed = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new DecodeError('$', 'a JSON ExportMetricsServiceResponse', (err as Error).message);
  }
  const partial = (
    parsed as { partialSuccess?: { rejectedDataPoints?: unknown; errorMessage?: unknown } }
  )?.partialSuccess;
  return {
    rejectedDataPoints: Number(partial?.rejectedDataPoints ?? 0) || 0,
    errorMessage: typeof partial?.errorMessage === 'string' ? partial.errorMessage : '',
  };
}

/** Full success is `{}`; otherwise `partialSuccess` with the count as a decimal string. */
export function encodeMetricsResponseJson(partial?: MetricsPartialSuccess): string {
  if (!partial || (partial.rejectedDataPoints === 0 && partial.errorMessage === '')) return '{}';
  return JSON.stringify({
    partialSuccess: {
      rejectedDataPoints: String(partial.rejectedDataPoints),
      errorMessage: partial.errorMessage,
    },
  });
}
