import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { OtlpHttpSender } from '../otlp-http-sender.js';

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
    encoding: z.enum(['proto', 'json']).default('proto'),
    ...exporterHelperKeys,
  })
  .refine((c) => c.endpoint !== undefined || c.metrics_endpoint !== undefined, {
    message: 'set endpoint (e.g. http://127.0.0.1:4318) or metrics_endpoint',
    path: ['endpoint'],
  });

export type OtlphttpConfig = z.infer<typeof otlphttpConfig>;

export const otlphttpExporterFactory = {
  type: 'otlphttp',
  configSchema: otlphttpConfig,
  create(settings: ComponentSettings, config: OtlphttpConfig) {
    const url = config.metrics_endpoint ?? `${config.endpoint!.replace(/\/+$/, '')}/v1/metrics`;
    const sender = new OtlpHttpSender({
      url,
      headers: config.headers,
      compression: config.compression,
      encoding: config.encoding === 'json' ? 'json' : 'protobuf',
      connections: config.sending_queue.num_consumers,
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
