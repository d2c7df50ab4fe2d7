import type { Logger } from 'pino';
import { encodeMetricsResponse } from '../../codec/protobuf/response.js';
import { encodeRetryInfoStatus } from '../../codec/protobuf/rpc-status.js';
import { METRICS_EXPORT_METHOD } from '../../codec/protobuf/service.js';
import type { OtlpRequestValidator } from '../../codec/protobuf/validate-request.js';
import type { ListenerProtection, ServerAuthenticator } from '../../model/auth.js';
import type { Component, Consumer } from '../../model/consumer.js';
import { SluiceError } from '../../model/errors.js';
import { type GrpcAnswer, GrpcStatus, GrpcUnaryListener } from '../../net/grpc-unary-listener.js';
import type { ServerTlsConfig } from '../../net/tls-config.js';
import { type Carry, ReceiverStats, refusalBeforeReading } from '../receiver-stats.js';
import { inlineDecoder, type RequestDecoder } from '../request-decoder.js';

export interface OtlpGrpcReceiverOptions {
  endpoint: string;
  maxReceiveBytes: number;
  /** Delay asked of senders (RetryInfo) when the pipeline is full. */
  retryAfterSeconds: number;
  /** Where bodies are decoded (the collector's `DecodePool`); this thread by default. */
  decoder?: RequestDecoder;
  tls?: ServerTlsConfig;
  /** Where its keys are in the config (`receivers.otlp.protocols.grpc`), for messages. */
  configKey?: string;
  /** Checks each call's metadata (`authorization`) before its message is decoded. */
  authenticator?: ServerAuthenticator;
  /** Checks messages for a pipeline that carries them as bytes (`Consumer.encoded`). */
  validator?: OtlpRequestValidator;
}

const OK: GrpcAnswer = { code: GrpcStatus.OK, response: encodeMetricsResponse() };

/**
 * OTLP/gRPC: `MetricsService/Export` on a `GrpcUnaryListener` (HTTP/2), requests decoded by
 * sluice's own codec or carried as they came to a relaying pipeline. A full pipeline answers
 * RESOURCE_EXHAUSTED with a RetryInfo, which the OTLP exporters retry; bad data answers
 * INVALID_ARGUMENT with the decoder's message.
 */
export class OtlpGrpcReceiver implements Component {
  readonly stats = new ReceiverStats();
  readonly #options: OtlpGrpcReceiverOptions;
  readonly #next: Consumer;
  readonly #logger: Logger;
  readonly #listener: GrpcUnaryListener;

  constructor(options: OtlpGrpcReceiverOptions, next: Consumer, logger: Logger) {
    this.#options = options;
    this.#next = next;
    this.#logger = logger;
    this.#listener = new GrpcUnaryListener(
      {
        endpoint: options.endpoint,
        endpointKey: `${options.configKey ?? 'protocols.grpc'}.endpoint`,
        method: METRICS_EXPORT_METHOD,
        maxReceiveBytes: options.maxReceiveBytes,
        tls: options.tls,
        authenticator: options.authenticator,
        logger,
        onRefused: (reason) => this.stats.refuseRequest(reason),
        beforeReading: () => {
          const refusal = refusalBeforeReading(this.#next, 'otlp');
          if (!refusal) return undefined;
          this.stats.requests++;
          return { reason: 'queue_full', answer: this.#exhausted(refusal.message) };
        },
        // A relay whose exporters all send gzip keeps a gzip message as it came, to send it
        // on when the request goes out alone.
        keepGzipped: () =>
          this.#options.validator !== undefined && this.#next.encoded?.gzip === true,
      },
      (message, carry) => this.#export(message, carry),
    );
  }

  /** This listener and what protects it, for the start-up check of exposed listeners. */
  get protection(): ListenerProtection {
    return this.#listener.protection('OTLP/gRPC');
  }

  get listening(): boolean {
    return this.#listener.listening;
  }

  get address(): string {
    return this.#listener.address;
  }

  start(): Promise<void> {
    return this.#listener.start();
  }

  shutdown(options: { deadlineMs: number }): Promise<void> {
    return this.#listener.close(options.deadlineMs);
  }

  async #export(message: Buffer, carry: Carry): Promise<GrpcAnswer> {
    this.stats.requests++;
    if (this.stats.offerOtlpProtobuf(this.#next, message)) return OK;
    try {
      const refused = await this.stats.accept(
        this.#next,
        message,
        () => (this.#options.decoder ?? inlineDecoder).decode('otlp-protobuf', message),
        this.#options.validator,
        { carry },
      );
      if (!refused) return OK;
      return refused.reason === 'queue_full'
        ? this.#exhausted(refused.error.message)
        : { code: GrpcStatus.UNAVAILABLE, message: refused.error.message };
    } catch (err) {
      const text = err instanceof SluiceError ? err.message : String(err);
      this.#logger.warn({ error: text }, 'refused a malformed OTLP/gRPC request');
      return { code: GrpcStatus.INVALID_ARGUMENT, message: text };
    }
  }

  #exhausted(message: string): GrpcAnswer {
    return {
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      message,
      details: encodeRetryInfoStatus(
        GrpcStatus.RESOURCE_EXHAUSTED,
        this.#options.retryAfterSeconds,
      ),
    };
  }
}
