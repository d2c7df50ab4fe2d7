import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { debugConfig } from './config.js';
import { ConsoleSender } from './console-sender.js';

export const debugExporterFactory = defineExporter({
  type: 'debug',
  description: 'Logs a summary of each batch, or prints every point',
  configSchema: debugConfig,
  create(settings, config) {
    const sender: Sender =
      config.verbosity === 'basic'
        ? {
            destination: 'debug',
            async send(batch: MetricBatch): Promise<SendResult> {
              settings.logger.info(
                {
                  exporter: settings.id,
                  resources: batch.resources.length,
                  metrics: batch.metrics.length,
                  points: batch.pointCount,
                },
                'metrics received',
              );
              return { rejectedPoints: 0 };
            },
          }
        : new ConsoleSender(process.stdout);
    return new QueuedExporter(settings, config, sender);
  },
});
