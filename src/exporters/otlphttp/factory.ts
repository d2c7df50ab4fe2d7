import { clientTransport } from '../../net/client-tls.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { otlphttpConfig } from './config.js';
import { OtlpHttpSender } from './otlp-http-sender.js';

export const otlphttpExporterFactory = defineExporter({
  type: 'otlphttp',
  description: 'OTLP over HTTP (protobuf or JSON; gzip, zstd) to a collector or backend',
  configSchema: otlphttpConfig,
  defaultConfig: { endpoint: 'http://127.0.0.1:4318' },
  create(settings, config) {
    const url = config.metrics_endpoint ?? `${config.endpoint!.replace(/\/+$/, '')}/v1/metrics`;
    const sender = new OtlpHttpSender({
      url,
      headers: config.headers,
      compression: config.compression,
      compressionLevel: config.compression_params?.level,
      encoding: config.encoding === 'json' ? 'json' : 'protobuf',
      connections: config.sending_queue.num_consumers,
      transport: clientTransport(settings, config),
    });
    return new QueuedExporter(settings, config, sender);
  },
});
