import { defineExporter } from '../helper/exporter.js';
import { prometheusConfig } from './config.js';
import { PrometheusExporter } from './prometheus-exporter.js';

export const prometheusExporterFactory = defineExporter({
  type: 'prometheus',
  description: 'Serves the latest values for Prometheus to scrape (text format or OpenMetrics)',
  configSchema: prometheusConfig,
  create: (settings, config) => new PrometheusExporter(settings, config),
});
