import { defineExporter } from '../helper/exporter.js';
import { QueuedExporter } from '../helper/queued-exporter.js';
import { natsExporterConfig } from './config.js';
import { NatsSender } from './nats-sender.js';

/** NATS's default max_payload is 1 MiB: requests stay below it unless told otherwise. */
const NATS_BATCH_BYTES = 1000 * 1024;

export const natsExporterFactory = defineExporter({
  type: 'nats',
  description: 'OTLP requests published to a NATS JetStream stream, deduplicated by message id',
  configSchema: natsExporterConfig,
  defaultConfig: { url: 'nats://127.0.0.1:4222' },
  create(settings, config) {
    const sender = new NatsSender({
      url: config.url,
      stream: config.stream,
      subject: config.subject,
      partitions: config.partitions,
      partitionBy: config.partition_by,
      createStream: config.create_stream,
      replicas: config.replicas,
      duplicateWindowMs: config.duplicate_window,
      user: config.user,
      password: config.password,
      token: config.token,
      tls: config.tls,
    });
    // Requests stay below NATS's default max_payload (1 MiB) whatever batch.max_bytes says.
    const batch = {
      ...config.batch,
      max_bytes: Math.min(config.batch.max_bytes, NATS_BATCH_BYTES),
    };
    return new QueuedExporter(settings, { ...config, batch }, sender);
  },
});
