import { z } from 'zod';
import { authReferenceSchema, clientTlsSchema } from '../../net/tls-config.js';
import { checkCompressionParams, compressionParamsSchema } from '../helper/compression.js';
import { exporterHelperKeys } from '../helper/config.js';

/** `otlphttp`: the Collector's keys; `endpoint` gets `/v1/metrics` unless `metrics_endpoint` is set. */
export const otlphttpConfig = z
  .strictObject({
    endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .optional(),
    metrics_endpoint: z
      .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
      .optional(),
    headers: z.record(z.string(), z.string()).default({}),
    compression: z.enum(['gzip', 'zstd', 'none']).default('gzip'),
    compression_params: compressionParamsSchema,
    encoding: z.enum(['proto', 'json']).default('proto'),
    tls: clientTlsSchema.optional(),
    auth: authReferenceSchema.optional(),
    ...exporterHelperKeys,
  })
  .refine((c) => c.endpoint !== undefined || c.metrics_endpoint !== undefined, {
    message: 'set endpoint (e.g. http://127.0.0.1:4318) or metrics_endpoint',
    path: ['endpoint'],
  })
  .superRefine(checkCompressionParams);

export type OtlphttpConfig = z.infer<typeof otlphttpConfig>;
