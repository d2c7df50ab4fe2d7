import { z } from 'zod';
import { authReferenceSchema, clientTlsSchema } from '../../net/tls-config.js';
import { checkCompressionParams, compressionParamsSchema } from '../helper/compression.js';
import { exporterHelperKeys } from '../helper/config.js';

/**
 * `influxdb`: the Collector's keys. v2 (`org`, `bucket`, `token`) writes to
 * `/api/v2/write`; with `v1_compatibility.enabled` it writes to v1's `/write` with `db`
 * (and `username`/`password` when set).
 */
export const influxdbExporterConfig = z
  .strictObject({
    endpoint: z.url({
      protocol: /^https?$/,
      error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:8086',
    }),
    org: z.string().optional(),
    bucket: z.string().optional(),
    token: z.string().optional(),
    v1_compatibility: z
      .strictObject({
        enabled: z.boolean().default(false),
        db: z.string().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
      })
      .prefault({}),
    headers: z.record(z.string(), z.string()).default({}),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    compression_params: compressionParamsSchema,
    tls: clientTlsSchema.optional(),
    auth: authReferenceSchema.optional(),
    ...exporterHelperKeys,
  })
  .refine((c) => (c.v1_compatibility.enabled ? c.v1_compatibility.db : c.bucket && c.org), {
    message:
      'set org and bucket (InfluxDB 2), or v1_compatibility: { enabled: true, db } (InfluxDB 1)',
    path: ['bucket'],
  })
  .superRefine(checkCompressionParams);

export type InfluxdbExporterConfig = z.infer<typeof influxdbExporterConfig>;
