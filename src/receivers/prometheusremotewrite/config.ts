import { z } from 'zod';
import { listenEndpoint } from '../../model/endpoint.js';
import { httpListenerKeys } from '../../net/listener-config.js';
import { attributeLimitKeys } from '../attribute-limits-config.js';

/** The contrib `prometheusremotewrite` receiver's keys. */
export const remoteWriteReceiverConfig = z.strictObject({
  endpoint: listenEndpoint('127.0.0.1:9090').default('127.0.0.1:9090'),
  max_request_body_size: z
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  ...httpListenerKeys,
  ...attributeLimitKeys,
});

export type RemoteWriteReceiverConfig = z.infer<typeof remoteWriteReceiverConfig>;
