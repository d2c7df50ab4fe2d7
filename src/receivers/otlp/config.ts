import { z } from 'zod';
import { listenEndpoint } from '../../model/endpoint.js';
import { grpcListenerKeys, httpListenerKeys } from '../../net/listener-config.js';
import { attributeLimitKeys } from '../attribute-limits-config.js';

const endpoint = listenEndpoint('127.0.0.1:4318');

const grpcProtocol = z.strictObject({
  endpoint: endpoint.default('127.0.0.1:4317'),
  max_recv_msg_size_mib: z.number().positive().default(4),
  ...grpcListenerKeys,
});

const httpProtocol = z.strictObject({
  endpoint: endpoint.default('127.0.0.1:4318'),
  max_request_body_size: z
    .number()
    .int()
    .positive()
    .default(20 * 1024 * 1024),
  metrics_url_path: z.string().startsWith('/').default('/v1/metrics'),
  ...httpListenerKeys,
});

/** The Collector's `otlp` receiver keys. `http:` or `grpc:` with no value enables defaults. */
export const otlpReceiverConfig = z.strictObject({
  ...attributeLimitKeys,
  protocols: z
    .strictObject({
      grpc: grpcProtocol
        .nullable()
        .optional()
        .transform((value) => (value === null ? grpcProtocol.parse({}) : value)),
      http: httpProtocol
        .nullable()
        .optional()
        .transform((value) => (value === null ? httpProtocol.parse({}) : value)),
    })
    .refine((p) => p.grpc !== undefined || p.http !== undefined, {
      message: 'enable at least one of protocols.grpc, protocols.http',
    }),
});

export type OtlpReceiverConfig = z.infer<typeof otlpReceiverConfig>;
export type OtlpHttpProtocolConfig = z.output<typeof httpProtocol>;
export type OtlpGrpcProtocolConfig = z.output<typeof grpcProtocol>;
