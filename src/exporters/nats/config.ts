import { z } from 'zod';
import { duration } from '../../model/duration.js';
import { natsName, natsUrl } from '../../model/endpoint.js';
import { clientTlsSchema } from '../../net/tls-config.js';
import { exporterHelperKeys } from '../helper/config.js';

/** `partition_by`: what decides a point's partition (see `PartitionBy`). */
const partitionBy = z.union([
  z.enum(['series', 'metric']),
  z.strictObject({ attributes: z.array(z.string().min(1)).min(1) }),
]);

/**
 * `nats`: JetStream publishing of OTLP protobuf requests. `url`, `stream`, `subject`,
 * `partitions` (the partition as the last subject token) and `partition_by`,
 * `create_stream`, `duplicate_window`, credentials, and the shared queue/retry/timeout blocks.
 */
export const natsExporterConfig = z
  .strictObject({
    url: natsUrl,
    stream: natsName('stream').default('SLUICE_METRICS'),
    subject: z.string().min(1).default('sluice.metrics'),
    partitions: z.number().int().min(0).max(1024).default(0),
    partition_by: partitionBy.default('series'),
    create_stream: z.boolean().default(true),
    /** Replicas of the stream it creates (3 on a three-node cluster). */
    replicas: z.number().int().min(1).max(5).default(1),
    duplicate_window: duration.default(120_000),
    user: z.string().optional(),
    password: z.string().optional(),
    token: z.string().optional(),
    tls: clientTlsSchema.optional(),
    ...exporterHelperKeys,
  })
  .refine((config) => config.partitions > 0 || config.partition_by === 'series', {
    message: 'partition_by needs partitions: set partitions to the number of partition subjects',
    path: ['partition_by'],
  });

export type NatsExporterConfig = z.infer<typeof natsExporterConfig>;
