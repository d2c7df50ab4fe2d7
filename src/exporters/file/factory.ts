import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { fileConfig } from './config.js';
import { FileSender } from './file-sender.js';

export const fileExporterFactory = defineExporter({
  type: 'file',
  description: 'OTLP/JSON or flat JSON lines to a file, with rotation',
  configSchema: fileConfig,
  defaultConfig: { path: './sluice-metrics.jsonl' },
  create(settings, config) {
    const sender = new FileSender({
      path: config.path,
      format: config.format === 'json' ? 'otlp_json' : 'flat',
      maxBytes: Math.round(config.rotation.max_megabytes * 1024 * 1024),
      maxBackups: config.rotation.max_backups,
    });
    return new QueuedExporter(settings, config, sender);
  },
});
