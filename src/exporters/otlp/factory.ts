import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { OtlpGrpcSender } from '../otlp-grpc-sender.js';

/** `otlp`: OTLP/gRPC with the Collector's keys (`endpoint: host:port`, `tls.insecure`). */
export const otlpConfig = z.strictObject({
  endpoint: z.string().min(1, 'expected host:port, e.g. 127.0.0.1:4317'),
  tls: z.strictObject({ insecure: z.boolean().default(false) }).prefault({}),
  headers: z.record(z.string(), z.string()).default({}),
  compression: z.enum(['gzip', 'none']).default('gzip'),
  ...exporterHelperKeys,
});

export type OtlpConfig = z.infer<typeof otlpConfig>;

export const otlpExporterFactory = {
  type: 'otlp',
  configSchema: otlpConfig,
  create(settings: ComponentSettings, config: OtlpConfig) {
    const bare = config.endpoint.replace(/^[a-z]+:\/\//, '');
    const secure =
      config.endpoint.startsWith('https://') ||
      (!config.endpoint.startsWith('http://') && !config.tls.insecure);
    const sender = new OtlpGrpcSender({
      endpoint: `${secure ? 'https' : 'http'}://${bare}`,
      headers: config.headers,
      compression: config.compression,
      maxSendBytes: Math.max(4 * 1024 * 1024, config.batch.max_bytes * 2),
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
