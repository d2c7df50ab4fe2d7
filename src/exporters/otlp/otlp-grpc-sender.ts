import { encodeMetricsRequest } from '../../codec/protobuf/encode-request.js';
import { decodeMetricsResponse } from '../../codec/protobuf/response.js';
import { METRICS_EXPORT_METHOD } from '../../codec/protobuf/service.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { ClientAuthenticator } from '../../model/auth.js';
import { InvalidArgumentError } from '../../model/errors.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import type { ClientTransport } from '../../net/client-tls.js';
import { GrpcUnaryClient } from '../../net/grpc-unary-client.js';
import { GrpcStatus, isMetadataName, METADATA_NAME_RULE } from '../../net/grpc-wire.js';
import { checkedLevel, compressBody } from '../helper/compression.js';
import { errorForGrpcStatus } from '../helper/grpc-status.js';

export interface OtlpGrpcSenderOptions {
  /** `http://host:4317` (plaintext) or `https://host:4317` (TLS); a bare `host:port` is plaintext. */
  endpoint: string;
  headers?: Record<string, string>;
  compression?: 'none' | 'gzip';
  /** The gzip level (`COMPRESSION_LEVELS`); its default when undefined. */
  compressionLevel?: number;
  /** Largest request the client sends (gRPC's default receive limit is 4 MiB). */
  maxSendBytes?: number;
  /** TLS options (for `https://`) and credentials (see `clientTransport`). */
  transport?: ClientTransport;
}

/**
 * OTLP/gRPC on sluice's own unary client (`net/grpc-unary-client.ts`): the request bytes come
 * from sluice's own encoder (no protobufjs objects), gzip is zlib's on its thread pool, and
 * status codes and `RetryInfo` map to retry decisions per the OTLP specification.
 */
export class OtlpGrpcSender implements Sender {
  readonly destination: string;
  readonly #client: GrpcUnaryClient;
  readonly #headers: Record<string, string>;
  readonly #auth: ClientAuthenticator | undefined;
  readonly #gzip: boolean;
  readonly #gzipLevel: number | undefined;
  readonly #maxSendBytes: number;

  constructor(options: OtlpGrpcSenderOptions) {
    const { target, secure } = parseEndpoint(options.endpoint);
    this.destination = `${secure ? 'https' : 'http'}://${target}`;
    this.#headers = lowerCaseKeys(options.headers ?? {});
    for (const name of Object.keys(this.#headers)) {
      if (!isMetadataName(name))
        throw new InvalidArgumentError('headers', name, METADATA_NAME_RULE);
    }
    this.#auth = options.transport?.auth;
    this.#gzip = options.compression === 'gzip';
    this.#gzipLevel = checkedLevel(options.compression ?? 'none', options.compressionLevel);
    this.#maxSendBytes = options.maxSendBytes ?? 16 * 1024 * 1024;
    this.#client = new GrpcUnaryClient({
      endpoint: this.destination,
      tls: secure ? options.transport?.tls : undefined,
    });
  }

  send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    return this.sendEncoded(encodeMetricsRequest(batch), signal);
  }

  /** With gzip: a relay's request gzipped by its client goes on as it came. */
  get sendsGzip(): boolean {
    return this.#gzip;
  }

  async sendEncoded(
    bytes: Uint8Array,
    signal: AbortSignal,
    gzipped?: Uint8Array,
  ): Promise<SendResult> {
    const message = this.#gzip
      ? (gzipped ?? (await compressBody(bytes, 'gzip', this.#gzipLevel)))
      : bytes;
    if (message.length > this.#maxSendBytes) {
      throw errorForGrpcStatus(
        GrpcStatus.RESOURCE_EXHAUSTED,
        `a request of ${message.length} bytes is over the largest the exporter sends (${this.#maxSendBytes}): lower batch.max_bytes`,
        undefined,
      );
    }
    const result = await this.#client.call(METRICS_EXPORT_METHOD, message, {
      headers: this.#callHeaders(),
      gzipped: this.#gzip,
      signal,
    });
    if (result.code !== GrpcStatus.OK) {
      throw errorForGrpcStatus(result.code, result.message, result.details);
    }
    const partial =
      result.response && result.response.length > 0
        ? decodeMetricsResponse(result.response)
        : undefined;
    return {
      rejectedPoints: partial?.rejectedDataPoints ?? 0,
      message: partial?.errorMessage || undefined,
    };
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  /** The configured headers, plus the authenticator's (asked for each call). */
  #callHeaders(): Record<string, string> {
    const auth = this.#auth?.headers();
    return auth ? { ...this.#headers, ...lowerCaseKeys(auth) } : this.#headers;
  }
}

/** gRPC metadata names are lower-case (HTTP/2 refuses upper-case header names). */
function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
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
