import { clientTransport } from '../../net/client-tls.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { remoteWriteExporterConfig } from './config.js';
import { RemoteWriteSender } from './remote-write-sender.js';

export const remoteWriteExporterFactory = defineExporter({
  type: 'prometheusremotewrite',
  description: 'Prometheus remote write 1.0 to Prometheus, VictoriaMetrics, Mimir and others',
  configSchema: remoteWriteExporterConfig,
  defaultConfig: { endpoint: 'http://127.0.0.1:9090/api/v1/write' },
  create(settings, config) {
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
      transport: clientTransport(settings, config),
      namespace: config.namespace,
      addSuffixes: config.add_metric_suffixes,
      resourceToLabels: config.resource_to_telemetry_conversion.enabled,
      targetInfo: config.target_info.enabled,
      sendMetadata: config.send_metadata,
      externalLabels: config.external_labels,
      exponentialHistograms: config.exponential_histograms.mode,
      exponentialMaxBuckets: config.exponential_histograms.max_buckets,
    });
    return new QueuedExporter(settings, config, sender);
  },
});
