import { z } from 'zod';
import { authReferenceSchema, clientTlsSchema } from '../../net/tls-config.js';
import { exporterHelperKeys } from '../helper/config.js';

/**
 * `prometheusremotewrite`: the Collector's keys (`endpoint`, `headers`, `external_labels`,
 * `namespace`, `add_metric_suffixes`, `resource_to_telemetry_conversion`, `target_info`,
 * `send_metadata`), the shared queue/retry/timeout blocks, and Prometheus's own
 * `basic_auth` / `bearer_token` for the backends that need them.
 */
export const remoteWriteExporterConfig = z
  .strictObject({
    endpoint: z.url({
      protocol: /^https?$/,
      error: 'expected an http:// or https:// URL, e.g. http://127.0.0.1:9090/api/v1/write',
    }),
    headers: z.record(z.string(), z.string()).default({}),
    external_labels: z.record(z.string(), z.string()).default({}),
    namespace: z.string().optional(),
    add_metric_suffixes: z.boolean().default(true),
    resource_to_telemetry_conversion: z
      .strictObject({ enabled: z.boolean().default(false) })
      .prefault({}),
    target_info: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
    send_metadata: z.boolean().default(false),
    /** sluice's: exponential histograms as classic buckets (default) or dropped with a count. */
    exponential_histograms: z
      .strictObject({
        mode: z.enum(['classic', 'drop']).default('classic'),
        max_buckets: z.number().int().min(1).max(160).default(32),
      })
      .prefault({}),
    basic_auth: z.strictObject({ username: z.string(), password: z.string() }).optional(),
    bearer_token: z.string().optional(),
    tls: clientTlsSchema.optional(),
    auth: authReferenceSchema.optional(),
    ...exporterHelperKeys,
  })
  .refine((c) => !(c.basic_auth && c.bearer_token), {
    message: 'set basic_auth or bearer_token, not both',
    path: ['bearer_token'],
  });

export type RemoteWriteExporterConfig = z.infer<typeof remoteWriteExporterConfig>;
