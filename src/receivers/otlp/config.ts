import { z } from 'zod';
import { listenEndpoint } from '../../model/endpoint.js';

const endpoint = listenEndpoint('127.0.0.1:4318');

/** The Collector's `otlp` receiver keys. `http:` or `grpc:` with no value enables defaults. */
export const otlpReceiverConfig = z.strictObject({
  protocols: z
    .strictObject({
      grpc: z
        .strictObject({
          endpoint: endpoint.default('127.0.0.1:4317'),
          max_recv_msg_size_mib: z.number().positive().default(4),
        })
        .nullable()
        .optional()
        .transform((value) =>
          value === null ? { endpoint: '127.0.0.1:4317', max_recv_msg_size_mib: 4 } : value,
        ),
      http: z
        .strictObject({
          endpoint: endpoint.default('127.0.0.1:4318'),
          max_request_body_size: z
            .number()
            .int()
            .positive()
            .default(20 * 1024 * 1024),
          metrics_url_path: z.string().startsWith('/').default('/v1/metrics'),
        })
        .nullable()
        .optional()
        .transform((value) =>
          value === null
            ? {
                endpoint: '127.0.0.1:4318',
                max_request_body_size: 20 * 1024 * 1024,
                metrics_url_path: '/v1/metrics',
              }
            : value,
        ),
    })
    .refine((p) => p.grpc !== undefined || p.http !== undefined, {
      message: 'enable at least one of protocols.grpc, protocols.http',
    }),
});

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverConfig>;
