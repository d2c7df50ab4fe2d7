import { z } from 'zod';
import { natsName, natsUrl } from '../../model/endpoint.js';
import { clientTlsSchema } from '../../net/tls-config.js';
import { attributeLimitKeys } from '../attribute-limits-config.js';

export const natsReceiverConfig = z.strictObject({
  url: natsUrl,
  stream: z.string().default('SLUICE_METRICS'),
  /** Durable consumer name: several collectors with the same name share the work. */
  consumer: natsName('consumer').default('sluice'),
  /** Only these subjects of the stream (e.g. one partition, `sluice.metrics.3`). */
  filter_subject: z.string().optional(),
  /** Messages handed out at once and not yet acknowledged. */
  max_ack_pending: z.number().int().min(1).default(256),
  user: z.string().optional(),
  password: z.string().optional(),
  token: z.string().optional(),
  tls: clientTlsSchema.optional(),
  ...attributeLimitKeys,
});

export type NatsReceiverConfig = z.infer<typeof natsReceiverConfig>;
