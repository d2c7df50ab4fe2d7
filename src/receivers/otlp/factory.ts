import { z } from 'zod';
import type { Component, Consumer } from '../../model/consumer.js';
import { listenEndpoint } from '../../model/endpoint.js';
import type { ReceiverSettings } from '../request-decoder.js';
import { OtlpGrpcReceiver } from './otlp-grpc-receiver.js';
import { OtlpHttpReceiver } from './otlp-http-receiver.js';

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

/** An `otlp` receiver: its HTTP and gRPC listeners as one component. */
export class OtlpReceiver implements Component {
  readonly id: string;
  readonly http: OtlpHttpReceiver | undefined;
  readonly grpc: OtlpGrpcReceiver | undefined;

  constructor(settings: ReceiverSettings, config: OtlpReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const logger = settings.logger.child({ receiver: settings.id });
    const { http, grpc } = config.protocols;
    if (http) {
      this.http = new OtlpHttpReceiver(
        {
          endpoint: http.endpoint,
          maxRequestBodySize: http.max_request_body_size,
          metricsPath: http.metrics_url_path,
          retryAfterSeconds: 1,
          decoder: settings.decoder,
        },
        next,
        logger,
      );
    }
    if (grpc) {
      this.grpc = new OtlpGrpcReceiver(
        {
          endpoint: grpc.endpoint,
          maxReceiveBytes: Math.round(grpc.max_recv_msg_size_mib * 1024 * 1024),
          retryAfterSeconds: 1,
          decoder: settings.decoder,
        },
        next,
        logger,
      );
    }
  }

  get listening(): boolean {
    return (this.http?.listening ?? true) && (this.grpc?.listening ?? true);
  }

  /** Where it listens, for the startup banner. */
  get addresses(): string[] {
    return [
      ...(this.grpc ? [`OTLP/gRPC ${this.grpc.address}`] : []),
      ...(this.http ? [`OTLP/HTTP http://${this.http.address}/v1/metrics`] : []),
    ];
  }

  async start(): Promise<void> {
    await this.http?.start();
    await this.grpc?.start();
  }

  async shutdown(options: { deadlineMs: number }): Promise<void> {
    await Promise.all([this.http?.shutdown(), this.grpc?.shutdown(options)]);
  }
}

export const otlpReceiverFactory = {
  type: 'otlp',
  configSchema: otlpReceiverConfig,
  create(settings: ReceiverSettings, config: OtlpReceiverConfig, next: Consumer) {
    return new OtlpReceiver(settings, config, next);
  },
};
