import type { EncodedPath } from './encoded-request.js';
import type { MetricBatch } from './metric-batch.js';
import type { PartitionChain, PartitionScope } from './partition.js';

/**
 * The one data-path contract (the OpenTelemetry Collector's): `consume` resolves once the
 * batch is accepted — queued, durably where the queue is persistent — and rejects with a
 * typed error (`QueueFullError`, ...) when it is not. After it resolves the caller must not
 * touch the batch: ownership passed on.
 */
export interface Consumer {
  consume(batch: MetricBatch): Promise<void>;
  /**
   * A fast path some pipelines offer: takes a whole OTLP protobuf
   * `ExportMetricsServiceRequest` body as received, without a batch, and returns its point
   * count (accepted, as `consume` resolving); or returns -1 having changed nothing, and the
   * caller decodes the body and calls `consume`. The body is only used during the call, and
   * may be changed during it (put back as it was before it returns): callers offer bodies no
   * other thread reads meanwhile, before anything else has them.
   */
  consumeOtlpProtobuf?(body: Uint8Array): number;
  /**
   * The relay path some pipelines offer: requests as bytes, checked by the receiver as the
   * decoder would (`OtlpRequestValidator`, `RemoteWriteValidator`), carried as they are to
   * exporters that send that format — no batch, no re-encoding. Present only where every
   * component downstream can carry bytes (no processor there needs the points); ownership
   * of the bytes passes with the request.
   */
  readonly encoded?: EncodedPath;
  /**
   * Resolves once everything accepted so far has left the pipeline for good — sent, or
   * written to dead letters or dropped (each counted and logged) — without hurrying any
   * batching. Present only where every component downstream can say so (exporters with a
   * delivery engine, and what passes batches straight to them): a receiver whose source keeps
   * data until it is acknowledged (the `nats` receiver) acknowledges only then, so a crash
   * between accepting and sending loses nothing. Where it is absent, accepted is as far as
   * the pipeline can vouch for.
   */
  settled?(): Promise<void>;
  /**
   * Present where the pipeline has processors: a chain of its own for one partition of a
   * partitioned source (new processor instances whose state is the partition's, kept in the
   * scope's stores), started and ready once the promise resolves. The source hands that
   * partition's messages to it instead, and closes it when it gives the partition up.
   */
  openPartition?(scope: PartitionScope): Promise<PartitionChain>;
}

/** Every receiver, processor and exporter: started once, shut down once (twice is a no-op). */
export interface Component {
  start(): Promise<void>;
  shutdown(options: { deadlineMs: number }): Promise<void>;
}

/**
 * What a factory gets besides its config: its id (`type/name`), a logger, and the storage
 * extensions the service enabled, by id (for `sending_queue.storage`, a processor's
 * `storage`); it throws for one that is not there.
 */
export interface ComponentSettings {
  id: string;
  logger: import('pino').Logger;
  /**
   * An exporter downstream keeps its queue on disk: a processor that buffers must not
   * acknowledge data before it reached that queue (else a crash loses what it acknowledged).
   */
  durableDownstream?: boolean;
  storage?: (id: string) => import('./storage.js').Storage;
  /** The auth extension `id` (an `auth.authenticator` reference), enabled in the service. */
  auth?: (id: string) => import('./auth.js').AuthExtension;
  /** In a chain opened for one partition (`Consumer.openPartition`): that partition. */
  partition?: PartitionScope;
}
