import { clientTransport } from '../../net/client-tls.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { otlpConfig } from './config.js';
import { OtlpGrpcSender } from './otlp-grpc-sender.js';

export const otlpExporterFactory = defineExporter({
  type: 'otlp',
  description: 'OTLP over gRPC to a collector or backend',
  configSchema: otlpConfig,
  defaultConfig: { endpoint: '127.0.0.1:4317', tls: { insecure: true } },
  create(settings, config) {
    const bare = config.endpoint.replace(/^[a-z]+:\/\//, '');
    const secure =
      config.endpoint.startsWith('https://') ||
      (!config.endpoint.startsWith('http://') && !config.tls.insecure);
    const sender = new OtlpGrpcSender({
      endpoint: `${secure ? 'https' : 'http'}://${bare}`,
      headers: config.headers,
      compression: config.compression,
      compressionLevel: config.compression_params?.level,
      maxSendBytes: Math.max(4 * 1024 * 1024, config.batch.max_bytes * 2),
      transport: clientTransport(settings, config),
    });
    return new QueuedExporter(settings, config, sender);
  },
});
