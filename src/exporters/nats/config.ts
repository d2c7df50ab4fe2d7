import { z } from 'zod';
import { duration } from '../../model/duration.js';
import { natsName, natsUrl } from '../../model/endpoint.js';
import { clientTlsSchema } from '../../net/tls-config.js';
import { exporterHelperKeys } from '../helper/config.js';

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
  tls: clientTlsSchema.optional(),
  ...exporterHelperKeys,
});

export type NatsExporterConfig = z.infer<typeof natsExporterConfig>;
