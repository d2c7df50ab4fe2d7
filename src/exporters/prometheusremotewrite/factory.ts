import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { RemoteWriteSender } from './remote-write-sender.js';

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
    ...exporterHelperKeys,
  })
  .refine((c) => !(c.basic_auth && c.bearer_token), {
    message: 'set basic_auth or bearer_token, not both',
    path: ['bearer_token'],
  });

export type RemoteWriteExporterConfig = z.infer<typeof remoteWriteExporterConfig>;

export const remoteWriteExporterFactory = {
  type: 'prometheusremotewrite',
  configSchema: remoteWriteExporterConfig,
  create(settings: ComponentSettings, config: RemoteWriteExporterConfig) {
    const headers = { ...config.headers };
    if (config.basic_auth) {
      const { username, password } = config.basic_auth;
      headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    } else if (config.bearer_token) {
      headers.authorization = `Bearer ${config.bearer_token}`;
    }
    const sender = new RemoteWriteSender({
      endpoint: config.endpoint,
      headers,
      connections: config.sending_queue.num_consumers,
      namespace: config.namespace,
      addSuffixes: config.add_metric_suffixes,
      resourceToLabels: config.resource_to_telemetry_conversion.enabled,
      targetInfo: config.target_info.enabled,
      sendMetadata: config.send_metadata,
      externalLabels: config.external_labels,
      exponentialHistograms: config.exponential_histograms.mode,
      exponentialMaxBuckets: config.exponential_histograms.max_buckets,
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
