import type { Writable } from 'node:stream';
import type { MeterProvider } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import {
  type AggregationOption,
  AggregationTemporality,
  AggregationType,
  InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import type { Logger } from 'pino';
import type { EncodedRequest } from '../codec/protobuf/encoded-request.js';
import { ResourceMetricsConverter } from '../codec/sdk/from-resource-metrics.js';
import { requestMemory, SdkRequestEncoder } from '../codec/sdk/sdk-request-encoder.js';
import type { RetryOptions } from '../delivery/backoff.js';
import type { CircuitBreakerOptions } from '../delivery/circuit-breaker.js';
import { type BatchOptions, DEFAULT_BATCH, DeliveryEngine } from '../delivery/delivery-engine.js';
import type { DeliveryStats } from '../delivery/delivery-stats.js';
import { sharedEventLoopBudget } from '../delivery/event-loop-budget.js';
import type { QueueOptions } from '../delivery/memory-queue.js';
import type { Sender } from '../delivery/sender.js';
import { ConsoleSender } from '../exporters/debug/console-sender.js';
import { FileSender, type FileSenderOptions } from '../exporters/file/file-sender.js';
import { OtlpGrpcSender } from '../exporters/otlp/otlp-grpc-sender.js';
import { OtlpHttpSender } from '../exporters/otlphttp/otlp-http-sender.js';
import { InvalidArgumentError } from '../model/errors.js';
import { MetricBatch } from '../model/metric-batch.js';
import type { StorageSettings } from '../model/storage.js';
import { clientTlsOptions } from '../net/client-tls.js';
import { type OtlpEnvironment, readOtlpEnvironment } from './env.js';

/** Points per OTLP request the exporter writes by default (see the constructor). */
const EXPORTER_REQUEST_POINTS = 4096;

export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

/** PEM file paths and checks for the exporter's TLS connections. */
export interface SluiceTlsOptions {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Encrypt without checking the server's certificate: for tests only. */
  insecureSkipVerify?: boolean;
  /** The name the server's certificate must carry, when it is not the URL's host. */
  serverName?: string;
  minVersion?: '1.2' | '1.3';
}

export interface SluiceMetricExporterOptions {
  /** Metrics endpoint; default from `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`, else `http://localhost:4318/v1/metrics`. */
  url?: string;
  headers?: Record<string, string>;
  /** Per request attempt (the official exporters' `timeoutMillis`). Default 10 s. */
  timeoutMillis?: number;
  compression?: 'none' | 'gzip' | 'zstd';
  /** gzip 1-9 (default 1, the fastest), zstd 1-22 (default 3): see `COMPRESSION_LEVELS`. */
  compressionLevel?: number;
  /**
   * TLS for an `https://` URL: a private CA, a client certificate for mutual TLS (default
   * from `OTEL_EXPORTER_OTLP_[METRICS_]CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`).
   */
  tls?: SluiceTlsOptions;
  /** `http/protobuf` (default), `http/json` or `grpc`. */
  protocol?: 'http/protobuf' | 'http/json' | 'grpc';
  temporalityPreference?: TemporalityPreference;
  queue?: Partial<QueueOptions>;
  batch?: Partial<BatchOptions>;
  retry?: Partial<RetryOptions>;
  circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  numConsumers?: number;
  deadLetterDir?: string;
  /**
   * Keep the queue on disk in this directory (a persistent queue): what `export()` accepted
   * survives a crash of the app and is sent at its next start. `queue` limits do not apply
   * then; `storage` sets the policy (default: fsync every 200 ms, 256 MiB, refuse when full).
   */
  queueDirectory?: string;
  storage?: Partial<Omit<StorageSettings, 'directory'>>;
  logger?: Logger;
  /** How long `shutdown()` keeps delivering before the rest goes to dead letters. Default 30 s. */
  shutdownDeadlineMillis?: number;
  /** Write JSON lines to a file (with size rotation) instead of sending OTLP. */
  file?: FileSenderOptions;
  /** Print readable lines to stdout (`true`) or a stream instead of sending OTLP. */
  console?: boolean | Writable;
  /** Where the exporter's own metrics go: the global provider by default, `false` for none. */
  meterProvider?: MeterProvider | false;
  /** A custom destination instead of OTLP (tests, other protocols). */
  sender?: Sender;
}

/**
 * A `PushMetricExporter` for `@opentelemetry/sdk-metrics` that never blocks the app on the
 * network: `export()` converts and enqueues, then reports success; a pool of consumers sends
 * batches with retries, backoff, a circuit breaker and dead letters. `forceFlush()` resolves
 * once everything accepted so far was delivered or dead-lettered.
 */
export class SluiceMetricExporter implements PushMetricExporter {
  readonly #engine: DeliveryEngine;
  /**
   * OTLP protobuf destinations get requests written straight from the SDK's data points
   * (about half the CPU time of converting into batches and encoding those); the others,
   * batches.
   */
  readonly #encoder: SdkRequestEncoder | undefined;
  readonly #converter = new ResourceMetricsConverter();
  readonly #temporality: TemporalityPreference;
  readonly #shutdownDeadlineMs: number;
  /** Batches the engine is done with, reused for the next conversions (bounded). */
  readonly #pool: MetricBatch[] = [];
  /** Request buffers the engine is done with, reused for the next encodings (bounded). */
  readonly #buffers: Uint8Array[] = [];
  readonly #poolSize: number;
  readonly #batch: BatchOptions;

  constructor(options: SluiceMetricExporterOptions = {}) {
    const env = readOtlpEnvironment();
    const transport = { tls: sdkTlsOptions(options.tls, env) };
    const protocol = options.protocol ?? env.protocol ?? 'http/protobuf';
    if (protocol !== 'http/protobuf' && protocol !== 'http/json' && protocol !== 'grpc') {
      throw new InvalidArgumentError('protocol', protocol, 'http/protobuf, http/json or grpc');
    }
    const compression = options.compression ?? env.compression ?? 'none';
    if (compression !== 'none' && compression !== 'gzip' && compression !== 'zstd') {
      throw new InvalidArgumentError('compression', compression, 'none, gzip or zstd');
    }
    if (protocol === 'grpc' && compression === 'zstd') {
      throw new InvalidArgumentError(
        'compression',
        compression,
        'none or gzip with protocol grpc (zstd is for OTLP/HTTP)',
      );
    }
    const temporality = options.temporalityPreference ?? env.temporalityPreference ?? 'cumulative';
    if (temporality !== 'cumulative' && temporality !== 'delta' && temporality !== 'lowmemory') {
      throw new InvalidArgumentError(
        'temporalityPreference',
        temporality,
        'cumulative, delta or lowmemory',
      );
    }
    this.#temporality = temporality;
    this.#shutdownDeadlineMs = options.shutdownDeadlineMillis ?? 30_000;
    // Requests of 4096 points (~1.3 MB of 10-bucket histograms): the requests in flight at
    // once — a full queue, one per consumer, the one being written — are memory the process
    // keeps between exports (the allocator holds on to what was freed), and halving the
    // collector's 8192 lowered an app's peak RSS by ~10 MB at 100k series for the same CPU.
    // OTLP/JSON encodes ~5x slower than protobuf: smaller requests keep each encode short.
    this.#batch = {
      ...DEFAULT_BATCH,
      maxPoints: protocol === 'http/json' ? 2048 : EXPORTER_REQUEST_POINTS,
      ...options.batch,
    };
    const sender: Sender =
      options.sender ??
      (options.file ? new FileSender(options.file) : undefined) ??
      (options.console
        ? new ConsoleSender(options.console === true ? process.stdout : options.console)
        : undefined) ??
      (protocol === 'grpc'
        ? new OtlpGrpcSender({
            endpoint: options.url ?? env.grpcEndpoint ?? 'http://localhost:4317',
            headers: { ...env.headers, ...options.headers },
            compression: compression === 'gzip' ? 'gzip' : 'none',
            compressionLevel: options.compressionLevel,
            transport,
          })
        : undefined) ??
      new OtlpHttpSender({
        url: options.url ?? env.url ?? 'http://localhost:4318/v1/metrics',
        headers: { ...env.headers, ...options.headers },
        encoding: protocol === 'http/json' ? 'json' : 'protobuf',
        compression,
        compressionLevel: options.compressionLevel,
        connections: options.numConsumers ?? 4,
        transport,
      });
    // 8 MiB of encoded requests (~4 full ones) keeps the consumers busy: more only adds to
    // the process's memory while a large collection is being sent.
    const queue: QueueOptions = {
      maxPoints: 131_072,
      maxBytes: 8 * 1024 * 1024,
      whenFull: 'block',
      blockTimeoutMs: 30_000,
      ...options.queue,
    };
    // Enough batches (or request buffers) for a full queue plus one in flight per consumer:
    // a collection bigger than the queue then reuses the same memory instead of feeding the
    // GC, which measured as most of the CPU time and the longest pauses on a million points.
    const queueBatches = Math.min(
      Math.ceil(queue.maxPoints / this.#batch.maxPoints),
      Math.ceil(queue.maxBytes / this.#batch.maxBytes) + 1,
    );
    this.#poolSize = Math.min(queueBatches, 64) + (options.numConsumers ?? 4) + 1;
    this.#engine = new DeliveryEngine({
      releaseBatch: (payload) => {
        if (payload instanceof MetricBatch) {
          if (this.#pool.length < this.#poolSize) this.#pool.push(payload);
        } else if (this.#buffers.length < this.#poolSize) {
          this.#buffers.push(new Uint8Array(payload.bytes.buffer));
        }
      },
      sender,
      // An exporter converts big collections slice by slice: a bounded queue that makes
      // export() wait for room keeps memory flat and lets batches be reused, and the wait is
      // capped so a dead backend fails exports instead of piling them up.
      queue,
      batch: this.#batch,
      retry: options.retry,
      circuitBreaker: options.circuitBreaker,
      numConsumers: options.numConsumers,
      deadLetterDir: options.deadLetterDir,
      storage: options.queueDirectory
        ? {
            fsync: 'interval',
            fsyncIntervalMs: 200,
            maxSizeBytes: 256 * 1024 * 1024,
            whenFull: 'block',
            ...options.storage,
            directory: options.queueDirectory,
          }
        : undefined,
      timeoutMs: options.timeoutMillis ?? env.timeoutMillis ?? 10_000,
      logger: options.logger,
      meterProvider: options.meterProvider,
    });
    if (sender.sendEncoded && protocol !== 'http/json') this.#encoder = new SdkRequestEncoder();
    if (options.queueDirectory) {
      // Send what the last run left stored now, not at the first export.
      this.#engine.open().then(
        () => this.#engine.start(),
        (error: Error) =>
          (options.logger ?? console).error(
            `sluice: the queue directory cannot be used, exports will fail: ${error.message}`,
          ),
      );
    }
  }

  /** Counters of what happened to every point (accepted, sent, dead-lettered, dropped...). */
  get stats(): DeliveryStats {
    return this.#engine.stats;
  }

  /**
   * Converts in slices that yield to the event loop (a million points never hold it for
   * long), straight into batches of the request size, and queues them. Reports success once
   * every slice was accepted; the sending happens later, on the consumers.
   */
  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    let firstError: Error | undefined;
    const accept = async (payload: MetricBatch | EncodedRequest) => {
      try {
        await this.#engine.consume(payload);
      } catch (error) {
        firstError ??= error as Error;
      }
    };
    const done = this.#encoder
      ? this.#encoder.encode(metrics, {
          maxPoints: this.#batch.maxPoints,
          maxBytes: this.#batch.maxBytes,
          pace: () => sharedEventLoopBudget.take(),
          buffer: (size) => this.#takeBuffer(size),
          onRequest: accept,
        })
      : this.#converter.convertInChunks(metrics, {
          maxPoints: this.#batch.maxPoints,
          pace: () => sharedEventLoopBudget.take(),
          newBatch: (points) => this.#pool.pop()?.clear() ?? new MetricBatch({ points }),
          onBatch: accept,
        });
    done.then(
      () => resultCallback(firstError ? { code: 1, error: firstError } : { code: 0 }),
      (error: Error) => resultCallback({ code: 1, error }),
    );
  }

  /**
   * Memory for one request: a released one when large enough, else a fresh one (not
   * zero-filled: the encoder writes every byte it sends).
   */
  #takeBuffer(size: number): Uint8Array {
    const buffer = this.#buffers.pop();
    return buffer && buffer.length >= size ? buffer : requestMemory(size);
  }

  forceFlush(): Promise<void> {
    return this.#engine.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#engine.shutdown({ deadlineMs: this.#shutdownDeadlineMs });
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    if (this.#temporality === 'cumulative') return AggregationTemporality.CUMULATIVE;
    const delta =
      this.#temporality === 'delta'
        ? instrumentType !== InstrumentType.UP_DOWN_COUNTER &&
          instrumentType !== InstrumentType.OBSERVABLE_UP_DOWN_COUNTER
        : instrumentType === InstrumentType.COUNTER || instrumentType === InstrumentType.HISTOGRAM;
    return delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  }

  selectAggregation(_instrumentType: InstrumentType): AggregationOption {
    return { type: AggregationType.DEFAULT };
  }
}

/** The exporter's `tls` option over the environment's certificate files, as `node:tls` options. */
function sdkTlsOptions(tls: SluiceTlsOptions | undefined, env: OtlpEnvironment) {
  const ca = tls?.caFile ?? env.certificateFile;
  const cert = tls?.certFile ?? env.clientCertificateFile;
  const key = tls?.keyFile ?? env.clientKeyFile;
  if (!tls && ca === undefined && cert === undefined) return undefined;
  return clientTlsOptions(
    {
      insecure: false,
      insecure_skip_verify: tls?.insecureSkipVerify ?? false,
      ca_file: ca,
      cert_file: cert,
      key_file: key,
      server_name_override: tls?.serverName,
      min_version: tls?.minVersion ?? '1.2',
    },
    'SluiceMetricExporter tls',
  );
}
