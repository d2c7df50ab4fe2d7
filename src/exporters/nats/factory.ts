import { z } from 'zod';
import type { ComponentSettings } from '../../model/consumer.js';
import { duration } from '../../model/duration.js';
import { natsName, natsUrl } from '../../model/endpoint.js';
import { type ExporterHelperConfig, exporterHelperKeys } from '../helper/config.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { NatsSender } from './nats-sender.js';

/** NATS's default max_payload is 1 MiB: requests stay below it unless told otherwise. */
const NATS_BATCH_BYTES = 1000 * 1024;

/**
 * `nats`: JetStream publishing of OTLP protobuf requests. `url`, `stream`, `subject`,
 * `partitions` (series hash as the last subject token), `create_stream`,
 * `duplicate_window`, credentials, and the shared queue/retry/timeout blocks.
 */
export const natsExporterConfig = z.strictObject({
  url: natsUrl,
  stream: natsName('stream').default('SLUICE_METRICS'),
  subject: z.string().min(1).default('sluice.metrics'),
  partitions: z.number().int().min(0).max(1024).default(0),
  create_stream: z.boolean().default(true),
  duplicate_window: duration.default(120_000),
  user: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  ...exporterHelperKeys,
});

export type NatsExporterConfig = z.infer<typeof natsExporterConfig>;

export const natsExporterFactory = {
  type: 'nats',
  configSchema: natsExporterConfig,
  create(settings: ComponentSettings, config: NatsExporterConfig) {
    const sender = new NatsSender({
      url: config.url,
      stream: config.stream,
      subject: config.subject,
      partitions: config.partitions,
      createStream: config.create_stream,
      duplicateWindowMs: config.duplicate_window,
      user: config.user,
      password: config.password,
      token: config.token,
    });
    const helper = config as ExporterHelperConfig;
    // Requests stay below NATS's default max_payload (1 MiB) whatever batch.max_bytes says.
    const batch = {
      ...helper.batch,
      max_bytes: Math.min(helper.batch.max_bytes, NATS_BATCH_BYTES),
    };
    return new QueuedExporter(settings, { ...helper, batch }, sender);
  },
};
