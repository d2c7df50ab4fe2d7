import { z } from 'zod';
import { type AttributeLimits, checkAttributeLimits } from '../model/attribute-limits.js';
import type { RequestDecoder } from './request-decoder.js';

/**
 * The keys every receiver takes to bound attribute sets (see `AttributeLimits`). The
 * defaults hold what SDKs send — the OpenTelemetry SDKs stop at 128 attributes — and keep a
 * hostile request from planting huge series keys.
 */
export const attributeLimitKeys = {
  max_attributes_per_point: z.number().int().min(1).default(128),
  max_attribute_value_bytes: z
    .number()
    .int()
    .min(1)
    .default(16 * 1024),
};

export function attributeLimits(config: {
  max_attributes_per_point: number;
  max_attribute_value_bytes: number;
}): AttributeLimits {
  return {
    maxAttributes: config.max_attributes_per_point,
    maxValueBytes: config.max_attribute_value_bytes,
  };
}

/**
 * `decoder`, whose batches are checked against `limits`: a request over them is refused
 * with `AttributeLimitError` like malformed data. The collector's fast path needs no check
 * of its own: it takes only points of series it already holds, which came through here.
 */
export function limitedDecoder(decoder: RequestDecoder, limits: AttributeLimits): RequestDecoder {
  return {
    async decode(format, body) {
      const batch = await decoder.decode(format, body);
      checkAttributeLimits(batch, limits);
      return batch;
    },
  };
}
