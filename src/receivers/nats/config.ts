import { z } from 'zod';
import { duration } from '../../model/duration.js';
import { natsName, natsUrl } from '../../model/endpoint.js';
import { clientTlsSchema } from '../../net/tls-config.js';
import { attributeLimitKeys } from '../attribute-limits-config.js';

/**
 * `partitions`: consume the partition subjects a `nats` exporter with `partitions: count`
 * publishes (`<subject>.<p>`), one durable consumer each (`<consumer>_p<p>`): the ones listed
 * in `assign`, or with `auto` a share of them, leased through a JetStream KV bucket among the
 * live members of the group named by `consumer` (see `PartitionLeases`).
 */
const partitions = z
  .strictObject({
    count: z.number().int().min(1).max(1024),
    subject: z.string().min(1).default('sluice.metrics'),
    assign: z.union([z.literal('auto'), z.array(z.number().int().min(0)).min(1)]).default('auto'),
    /** How long a dead member's partitions stay with it; renewed every quarter of it. */
    lease: duration.default(5_000),
    /** Replicas of the lease bucket's and the state stream (3 on a three-node cluster). */
    replicas: z.number().int().min(1).max(5).default(1),
    /**
     * Give each partition its own processors, whose state (`aggregate`, `deltatocumulative`)
     * is snapshotted to JetStream and moves with the partition, a message acknowledged once a
     * snapshot holds it. `false`: one set of processors for every partition held, messages
     * acknowledged once accepted — cheaper, but a partition's move or a crash loses or splits
     * state (docs/scaling.md).
     */
    move_state: z.boolean().default(true),
  })
  .refine((p) => p.assign === 'auto' || p.assign.every((k) => k < p.count), {
    message: 'every assigned partition must be below count',
    path: ['assign'],
  });

export const natsReceiverConfig = z
  .strictObject({
    url: natsUrl,
    stream: z.string().default('SLUICE_METRICS'),
    /** Durable consumer name: several collectors with the same name share the work. */
    consumer: natsName('consumer').default('sluice'),
    /** Only these subjects of the stream (e.g. one partition, `sluice.metrics.3`). */
    filter_subject: z.string().optional(),
    /** Messages handed out at once and not yet acknowledged. */
    max_ack_pending: z.number().int().min(1).default(256),
    /**
     * How long JetStream waits for a message's acknowledgement before handing it out again —
     * how soon, after a crash, another collector gets what this one had not sent. A message
     * is acknowledged once the pipeline has sent its points (where its exporters can say
     * so); until then the receiver renews the wait every third of it.
     */
    ack_wait: duration.default(30_000),
    partitions: partitions.optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    token: z.string().optional(),
    tls: clientTlsSchema.optional(),
    ...attributeLimitKeys,
  })
  .refine((config) => !(config.partitions && config.filter_subject), {
    message: 'filter_subject and partitions exclude each other: partitions picks the subjects',
    path: ['filter_subject'],
  });

export type NatsReceiverConfig = z.infer<typeof natsReceiverConfig>;
