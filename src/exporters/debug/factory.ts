import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { debugConfig } from './config.js';
import { ConsoleSender } from './console-sender.js';
import { SummarySender } from './summary-sender.js';

export const debugExporterFactory = defineExporter({
  type: 'debug',
  description: 'Logs a summary of each batch, or prints every point',
  configSchema: debugConfig,
  create(settings, config) {
    const sender =
      config.verbosity === 'basic'
        ? new SummarySender(settings.logger, settings.id)
        : new ConsoleSender(process.stdout);
    return new QueuedExporter(settings, config, sender);
  },
});
