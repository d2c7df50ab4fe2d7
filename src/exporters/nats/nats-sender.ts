import { createHash } from 'node:crypto';
import { connect, type JetStreamClient, type NatsConnection, nanos, StorageType } from 'nats';
import { encodeMetricsRequest } from '../../codec/protobuf/encode-request.js';
import { PermanentError, RetryableError } from '../../delivery/errors.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import type { MetricBatch } from '../../model/metric-batch.js';
import { within } from '../../model/within.js';
import { type NatsClientConfig, natsConnectOptions } from '../../net/nats-options.js';
import { type PartitionBy, Partitioner } from './partitioner.js';

export interface NatsSenderOptions extends NatsClientConfig {
  stream: string;
  subject: string;
  /** 0: one subject; N: `<subject>.<partition>`, N subjects consumers can share out. */
  partitions: number;
  /** What decides a point's partition (default: its series). */
  partitionBy?: PartitionBy;
  /** Create the stream (file storage, subjects `<subject>` and `<subject>.>`) when missing. */
  createStream: boolean;
  /** How long JetStream remembers message ids, so a retried publish is stored once. */
  duplicateWindowMs: number;
  /** Replicas of the stream it creates (default 1). */
  replicas?: number;
}

/**
 * Publishes each batch as an OTLP `ExportMetricsServiceRequest` to NATS JetStream and waits
 * for the stream's acknowledgement. Every message carries a `Nats-Msg-Id` derived from its
 * bytes: a publish retried after a lost acknowledgement is stored once (within the stream's
 * duplicate window). The connection reconnects by itself; a publish while the server is
 * away fails and the delivery engine retries it.
 */
export class NatsSender implements Sender {
  readonly destination: string;
  readonly #options: NatsSenderOptions;
  readonly #partitioner: Partitioner | undefined;
  #connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;

  constructor(options: NatsSenderOptions) {
    this.#options = options;
    if (options.partitions > 0) {
      this.#partitioner = new Partitioner(options.partitions, options.partitionBy ?? 'series');
    }
    this.destination = `${options.url} (stream ${options.stream}, subject ${options.subject})`;
  }

  async send(batch: MetricBatch, signal: AbortSignal): Promise<SendResult> {
    const { js, nc } = await this.#connect();
    for (const [subject, payload] of this.#requests(batch)) {
      if (signal.aborted) throw new RetryableError('send aborted');
      const max = nc.info?.max_payload ?? Number.POSITIVE_INFINITY;
      if (payload.length > max) {
        throw new PermanentError(
          `a request of ${payload.length} bytes exceeds the server's max_payload (${max}): set batch.max_bytes below it`,
        );
      }
      const msgID = createHash('sha256').update(payload).digest('hex').slice(0, 32);
      try {
        await js.publish(subject, payload, { msgID, timeout: 5_000 });
      } catch (err) {
        throw classify(err);
      }
    }
    return { rejectedPoints: 0 };
  }

  async close(): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    try {
      const { nc } = await connection;
      // Bounded: with the servers gone, a drain waits for nothing that can come.
      await within(nc.drain(), 5_000);
      if (!nc.isClosed()) await nc.close();
    } catch {
      // Never connected, or already closed.
    }
  }

  /**
   * The batch as one request, or as one request per partition subject that has points:
   * each point's partition once, then each partition's points encoded straight out of the
   * batch (copying them into a batch per partition first cost a gateway most of its time).
   */
  *#requests(batch: MetricBatch): Generator<[string, Uint8Array]> {
    const { subject, partitions } = this.#options;
    if (!this.#partitioner) {
      yield [subject, encodeMetricsRequest(batch)];
      return;
    }
    const partitionOf = this.#partitioner.assign(batch);
    for (let p = 0; p < partitions; p++) {
      const payload = encodeMetricsRequest(batch, { groups: partitionOf, group: p });
      if (payload.length > 0) yield [`${subject}.${p}`, payload];
    }
  }

  #connect(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    this.#connection ??= this.#open().catch((err) => {
      this.#connection = undefined; // the next send tries again
      throw classify(err);
    });
    return this.#connection;
  }

  async #open(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    const nc = await connect(natsConnectOptions(this.#options, 'sluice', 'exporters.nats.tls'));
    if (this.#options.createStream) await ensureStream(nc, this.#options);
    return { nc, js: nc.jetstream() };
  }
}

/** Adds the stream when missing (file storage, the subject and its partitions, `replicas`). */
async function ensureStream(
  nc: NatsConnection,
  options: Pick<NatsSenderOptions, 'stream' | 'subject' | 'duplicateWindowMs' | 'replicas'>,
): Promise<void> {
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.info(options.stream);
  } catch {
    await jsm.streams.add({
      name: options.stream,
      subjects: [options.subject, `${options.subject}.>`],
      storage: StorageType.File,
      duplicate_window: nanos(options.duplicateWindowMs),
      num_replicas: options.replicas ?? 1,
    });
  }
}

/** Authorization and permission failures are permanent; the rest (timeouts, no responders while the server restarts, a lost connection) is retried. */
function classify(err: unknown): PermanentError | RetryableError {
  const e = err as Error & { code?: string };
  const message = `NATS: ${e?.message ?? String(err)}`;
  if (
    /authorization|permissions violation/i.test(e?.message ?? '') ||
    e?.code === 'AUTHORIZATION_VIOLATION'
  ) {
    return new PermanentError(message);
  }
  return new RetryableError(message, { cause: err });
}
