import { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { ListenerProtection } from '../../model/auth.js';
import type { Consumer } from '../../model/consumer.js';
import { serverAuthenticator } from '../../net/resolve-auth.js';
import { attributeLimits, limitedDecoder } from '../attribute-limits-config.js';
import type { Receiver, ReceiverSettings } from '../receiver.js';
import type { ReceiverStats } from '../receiver-stats.js';
import { inlineDecoder } from '../request-decoder.js';
import type { OtlpReceiverConfig } from './config.js';
import { OtlpGrpcReceiver } from './otlp-grpc-receiver.js';
import { OtlpHttpReceiver } from './otlp-http-receiver.js';

/** An `otlp` receiver: its HTTP and gRPC listeners as one component. */
export class OtlpReceiver implements Receiver {
  readonly id: string;
  readonly http: OtlpHttpReceiver | undefined;
  readonly grpc: OtlpGrpcReceiver | undefined;

  constructor(settings: ReceiverSettings, config: OtlpReceiverConfig, next: Consumer) {
    this.id = settings.id;
    const logger = settings.logger.child({ receiver: settings.id });
    const { http, grpc } = config.protocols;
    const limits = attributeLimits(config);
    const decoder = limitedDecoder(settings.decoder ?? inlineDecoder, limits);
    // One for both listeners: a check runs synchronously, start to end.
    const validator = new OtlpRequestValidator(limits);
    if (http) {
      this.http = new OtlpHttpReceiver(
        {
          ...http,
          authenticator: serverAuthenticator(
            settings,
            http.auth,
            `receivers.${settings.id}.protocols.http.auth`,
          ),
          endpoint: http.endpoint,
          configKey: `receivers.${settings.id}.protocols.http`,
          maxRequestBodySize: http.max_request_body_size,
          metricsPath: http.metrics_url_path,
          retryAfterSeconds: 1,
          decoder,
          validator,
        },
        next,
        logger,
      );
    }
    if (grpc) {
      this.grpc = new OtlpGrpcReceiver(
        {
          endpoint: grpc.endpoint,
          configKey: `receivers.${settings.id}.protocols.grpc`,
          tls: grpc.tls,
          authenticator: serverAuthenticator(
            settings,
            grpc.auth,
            `receivers.${settings.id}.protocols.grpc.auth`,
          ),
          maxReceiveBytes: Math.round(grpc.max_recv_msg_size_mib * 1024 * 1024),
          retryAfterSeconds: 1,
          decoder,
          validator,
        },
        next,
        logger,
      );
    }
  }

  get listening(): boolean {
    return (this.http?.listening ?? true) && (this.grpc?.listening ?? true);
  }

  get statsByTransport(): Record<string, ReceiverStats> {
    return {
      ...(this.http ? { http: this.http.stats } : {}),
      ...(this.grpc ? { grpc: this.grpc.stats } : {}),
    };
  }

  get listeners(): ListenerProtection[] {
    return [
      ...(this.grpc ? [this.grpc.protection] : []),
      ...(this.http ? [this.http.listener.protection('OTLP/HTTP')] : []),
    ];
  }

  get addresses(): string[] {
    return [
      ...(this.grpc ? [`OTLP/gRPC ${this.grpc.address}`] : []),
      ...(this.http ? [`OTLP/HTTP ${this.http.listener.url(this.http.metricsPath)}`] : []),
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
