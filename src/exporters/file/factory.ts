import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { FileSender } from '../file-sender.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';

/** `file`: the Collector's keys (`path`, `format: json`, `rotation`), plus sluice's `flat` format. */
export const fileConfig = z.strictObject({
  path: z.string().min(1, 'expected a file path'),
  format: z.enum(['json', 'flat']).default('json'),
  rotation: z
    .strictObject({
      max_megabytes: z.number().positive().default(100),
      max_backups: z.number().int().min(0).default(5),
    })
    .prefault({}),
  ...exporterHelperKeys,
});

export type FileConfig = z.infer<typeof fileConfig>;

export const fileExporterFactory = {
  type: 'file',
  configSchema: fileConfig,
  create(settings: ComponentSettings, config: FileConfig) {
    const sender = new FileSender({
      path: config.path,
      format: config.format === 'json' ? 'otlp_json' : 'flat',
      maxBytes: Math.round(config.rotation.max_megabytes * 1024 * 1024),
      maxBackups: config.rotation.max_backups,
    });
    return new QueuedExporter(settings, config as ExporterHelperConfig, sender);
  },
};
