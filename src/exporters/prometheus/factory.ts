import { defineExporter } from '../helper/exporter.js';
import { prometheusConfig } from './config.js';
import { PrometheusExporter } from './prometheus-exporter.js';

export const prometheusExporterFactory = defineExporter({
  type: 'prometheus',
  description: 'Serves the latest values for Prometheus to scrape (text format or OpenMetrics)',
  configSchema: prometheusConfig,
  defaultConfig: { endpoint: '127.0.0.1:9464' },
  create: (settings, config) => new PrometheusExporter(settings, config),
});
