import { z } from 'zod';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { ComponentSettings } from '../../model/consumer.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { ConsoleSender } from '../console-sender.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';

/** `debug`: `basic` logs a summary per batch, `normal`/`detailed` print every point. */
export const debugConfig = z.strictObject({
  verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic'),
  ...exporterHelperKeys,
});

export type DebugConfig = z.infer<typeof debugConfig>;

export const debugExporterFactory = {
  type: 'debug',
  configSchema: debugConfig,
  create(settings: ComponentSettings, config: DebugConfig) {
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
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
