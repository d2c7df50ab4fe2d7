import { clientTransport } from '../../net/client-tls.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { type InfluxdbExporterConfig, influxdbExporterConfig } from './config.js';
import { InfluxSender } from './influx-sender.js';

export function influxWriteUrl(config: InfluxdbExporterConfig): URL {
  const base = config.endpoint.replace(/\/+$/, '');
  const v1 = config.v1_compatibility;
  const url = new URL(v1.enabled ? `${base}/write` : `${base}/api/v2/write`);
  url.searchParams.set('precision', 'ns');
  if (v1.enabled) {
    url.searchParams.set('db', v1.db!);
    if (v1.username) url.searchParams.set('u', v1.username);
    if (v1.password) url.searchParams.set('p', v1.password);
  } else {
    url.searchParams.set('org', config.org!);
    url.searchParams.set('bucket', config.bucket!);
  }
  return url;
}

export const influxdbExporterFactory = defineExporter({
  type: 'influxdb',
  description: 'InfluxDB 1 or 2 line protocol over HTTP',
  configSchema: influxdbExporterConfig,
  defaultConfig: { endpoint: 'http://127.0.0.1:8086', org: 'sluice', bucket: 'metrics' },
  create(settings, config) {
    const sender = new InfluxSender({
      writeUrl: influxWriteUrl(config),
      headers: {
        ...config.headers,
        ...(config.token && !config.v1_compatibility.enabled
          ? { authorization: `Token ${config.token}` }
          : {}),
      },
      compression: config.compression,
      compressionLevel: config.compression_params?.level,
      connections: config.sending_queue.num_consumers,
      transport: clientTransport(settings, config),
    });
    return new QueuedExporter(settings, config, sender);
  },
});
