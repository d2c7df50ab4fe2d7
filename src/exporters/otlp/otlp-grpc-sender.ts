import { type ConnectionOptions, createSecureContext } from 'node:tls';
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
} from '@grpc/grpc-js';
import { encodeMetricsRequest } from '../../codec/protobuf/encode-request.js';
import { decodeMetricsResponse } from '../../codec/protobuf/response.js';
import { METRICS_EXPORT_METHOD } from '../../codec/protobuf/service.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { ClientAuthenticator } from '../../model/auth.js';
import { InvalidArgumentError } from '../../model/errors.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { errorForGrpcStatus } from '../helper/grpc-status.js';

export interface OtlpGrpcSenderOptions {
  /** `http://host:4317` (plaintext) or `https://host:4317` (TLS); a bare `host:port` is plaintext. */
  endpoint: string;
  headers?: Record<string, string>;
  compression?: 'none' | 'gzip';
  /** Largest request the client sends (gRPC's default receive limit is 4 MiB). */
  maxSendBytes?: number;
  /** TLS options (for `https://`) and credentials (see `clientTransport`). */
  transport?: ClientTransport;
}

const identity = (value: Buffer) => value;
const GenericClient = makeGenericClientConstructor({}, 'MetricsService');

/**
 * OTLP/gRPC with `@grpc/grpc-js`: the request bytes come from sluice's own encoder (no
 * protobufjs objects), status codes and `RetryInfo` map to retry decisions per the OTLP spec.
 */
export class OtlpGrpcSender implements Sender {
  readonly destination: string;
  readonly #client: Client;
  readonly #metadata: Metadata;
  readonly #auth: ClientAuthenticator | undefined;

  constructor(options: OtlpGrpcSenderOptions) {
    const { target, secure } = parseEndpoint(options.endpoint);
    this.destination = `${secure ? 'https' : 'http'}://${target}`;
    this.#metadata = new Metadata();
    for (const [key, value] of Object.entries(options.headers ?? {}))
      this.#metadata.set(key, value);
    this.#auth = options.transport?.auth;
    const tls = options.transport?.tls;
    this.#client = new GenericClient(target, channelCredentials(secure, tls), {
      'grpc.default_compression_algorithm': options.compression === 'gzip' ? 2 : 0,
      'grpc.max_send_message_length': options.maxSendBytes ?? 16 * 1024 * 1024,
      'grpc.primary_user_agent': 'sluice',
      ...(tls?.servername ? { 'grpc.ssl_target_name_override': tls.servername } : {}),
    });
  }

  send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    return this.sendEncoded(encodeMetricsRequest(batch), signal);
  }

  sendEncoded(bytes: Uint8Array, signal: AbortSignal): Promise<SendResult> {
    const request = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new Promise((resolve, reject) => {
      const call = this.#client.makeUnaryRequest<Buffer, Buffer>(
        METRICS_EXPORT_METHOD,
        identity,
        identity,
        request,
        this.#callMetadata(),
        {},
        (error: ServiceError | null, response?: Buffer) => {
          signal.removeEventListener('abort', cancel);
          if (error) {
            const details = error.metadata?.get('grpc-status-details-bin')[0];
            reject(
              errorForGrpcStatus(
                error.code,
                error.details,
                details instanceof Buffer ? details : undefined,
              ),
            );
            return;
          }
          const partial =
            response && response.length > 0 ? decodeMetricsResponse(response) : undefined;
          resolve({
            rejectedPoints: partial?.rejectedDataPoints ?? 0,
            message: partial?.errorMessage || undefined,
          });
        },
      );
      const cancel = () => call.cancel();
      if (signal.aborted) call.cancel();
      else signal.addEventListener('abort', cancel, { once: true });
    });
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  /** The configured headers, plus the authenticator's (asked for each call). */
  #callMetadata(): Metadata {
    const metadata = this.#metadata.clone();
    for (const [key, value] of Object.entries(this.#auth?.headers() ?? {}))
      metadata.set(key, value);
    return metadata;
  }
}

/** Plain text, TLS with the system's CAs, or TLS with the exporter's `tls` options. */
function channelCredentials(secure: boolean, tls: ConnectionOptions | undefined) {
  if (!secure) return credentials.createInsecure();
  if (!tls) return credentials.createSsl();
  const context = createSecureContext({
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: tls.minVersion,
  });
  return credentials.createFromSecureContext(context, {
    rejectUnauthorized: tls.rejectUnauthorized,
  });
}

function parseEndpoint(endpoint: string): { target: string; secure: boolean } {
  const match = /^(?:(https?):\/\/)?([^/]+)\/?$/.exec(endpoint.trim());
  if (!match) {
    throw new InvalidArgumentError(
      'endpoint',
      endpoint,
      'a gRPC endpoint, e.g. http://127.0.0.1:4317',
    );
  }
  return { target: match[2], secure: match[1] === 'https' };
}
