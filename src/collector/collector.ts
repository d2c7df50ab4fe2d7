import type { Logger } from 'pino';
import { MetricsRequestScanner } from '../codec/protobuf/scan-request.js';
import type { Exporter } from '../exporters/helper/exporter.js';
import type { Extension } from '../extensions/extension.js';
import { type AuthExtension, isAuthExtension, type ListenerProtection } from '../model/auth.js';
import type { ComponentSettings, Consumer } from '../model/consumer.js';
import { type EncodedFormat, encodedPathThrough } from '../model/encoded-request.js';
import { InvalidArgumentError } from '../model/errors.js';
import type { PartitionChain } from '../model/partition.js';
import { isRequestVisitor } from '../model/request-visitor.js';
import type { Storage } from '../model/storage.js';
import { warnAboutExposedListeners } from '../net/exposure.js';
import { countDrop, type Processor } from '../processors/processor.js';
import { DecodePool, decodeThreadsFor } from '../receivers/decode-pool.js';
import type { Receiver } from '../receivers/receiver.js';
import {
  type CollectorConfig,
  type PipelineConfig,
  storageReference,
} from './config/load-config.js';
import { FanOut, type FanOutTarget } from './fan-out.js';
import { CardinalityTracker } from './status/cardinality.js';

/**
 * A processor's side of the OTLP fast path (`Consumer.consumeOtlpProtobuf`), with its points
 * counted as batches' are.
 */
function counted(
  take: (body: Uint8Array) => number,
  counts: { in: number; out: number },
  side: 'in' | 'out',
): (body: Uint8Array) => number {
  return (body) => {
    const points = take(body);
    if (points > 0) counts[side] += points;
    return points;
  };
}

/**
 * How processor `component` takes OTLP bodies: scanned into it when it takes scanned
 * requests (the aggregate processor), through its own pass-through (the memory limiter's),
 * or not at all.
 */
function fastPathOf(component: Consumer): ((body: Uint8Array) => number) | undefined {
  if (isRequestVisitor(component)) {
    // A receiver offers a body here before anything else has it (`consumeOtlpProtobuf`).
    const scanner = new MetricsRequestScanner(component, { inPlace: true });
    return (body) => scanner.scan(body);
  }
  return component.consumeOtlpProtobuf?.bind(component);
}

/**
 * The pipeline graph of one config: exporters (shared by the pipelines that name them),
 * processors (one chain per pipeline), receivers (shared, fanning out to their pipelines).
 * Starts exporters first and receivers last; shuts down in the reverse order, so accepted
 * data drains receivers → processors → exporters.
 */
export class Collector {
  readonly exporters = new Map<string, Exporter>();
  /** Points the pipelines handed to each exporter (whatever it then made of them). */
  readonly exporterCounts = new Map<string, { in: number }>();
  /** Processors in pipeline order, with the points that went into and out of each. */
  readonly processors: ProcessorEntry[] = [];
  readonly receivers = new Map<string, Receiver>();
  /** The configured pipelines: which receivers, processors and exporters each joins. */
  readonly pipelines: readonly Readonly<PipelineConfig>[];
  /**
   * Which metrics and attributes hold the series the receivers take (the dashboard's), when
   * `service.telemetry.cardinality.enabled`.
   */
  readonly cardinality: CardinalityTracker | undefined;
  /**
   * Receivers whose pipelines carry requests as bytes (the relay), with the formats they
   * carry: a body of such a format is checked and handed on, not decoded.
   */
  readonly relays = new Map<string, readonly EncodedFormat[]>();
  /** Extensions `service.extensions` enabled: started first, shut down last. */
  readonly extensions = new Map<string, Extension>();
  /** Decodes the receivers' request bodies off the main thread (shared by all receivers). */
  readonly decodePool: DecodePool;
  readonly #logger: Logger;
  #shutdown: Promise<void> | undefined;

  constructor(config: CollectorConfig, logger: Logger) {
    this.#logger = logger;
    this.pipelines = config.pipelines;
    const cardinality = config.cardinality;
    this.cardinality = cardinality.enabled
      ? new CardinalityTracker({
          cpuBudget: cardinality.cpu_budget,
          maxSeries: cardinality.max_series,
          activeWindowMs: cardinality.active_window,
        })
      : undefined;
    this.decodePool = new DecodePool({ threads: decodeThreadsFor(config.decodeThreads), logger });
    for (const [id, entry] of config.extensions)
      this.extensions.set(id, entry.create({ id, logger }));
    const storage = (id: string) => this.#extension(id, isStorage, 'storage', 'a storage');
    const auth = (id: string) => this.auth(id);
    for (const [id, entry] of config.exporters) {
      if (!config.pipelines.some((p) => p.exporters.includes(id))) continue;
      this.exporters.set(id, entry.create({ id, logger, storage, auth }));
      this.exporterCounts.set(id, { in: 0 });
    }
    const entryPoints = new Map<string, FanOutTarget[]>();
    const durable = (id: string) =>
      storageReference(config.exporters.get(id)?.config) !== undefined;
    for (const pipeline of config.pipelines) {
      const durableDownstream = pipeline.exporters.some(durable);
      const exporters = new FanOut(
        pipeline.exporters.map((id) => ({
          id,
          consumer: this.#countedExporter(id),
          durable: durable(id),
        })),
        logger,
      );
      const settings = { logger, storage, durableDownstream };
      const chain = buildChain(config, pipeline, exporters, settings);
      this.processors.push(...chain.processors);
      const next: Consumer =
        chain.processors.length === 0
          ? chain.entry
          : {
              ...chain.entry,
              openPartition: (scope) =>
                this.#openPartition(
                  buildChain(
                    config,
                    pipeline,
                    exporters,
                    { ...settings, partition: scope },
                    chain.processors.map((entry) => entry.counts),
                  ),
                  chain.processors,
                ),
            };
      for (const id of pipeline.receivers) {
        const list = entryPoints.get(id) ?? [];
        list.push({ id: `pipeline ${pipeline.name}`, consumer: next, durable: durableDownstream });
        entryPoints.set(id, list);
      }
    }
    for (const [id, targets] of entryPoints) {
      const entry = config.receivers.get(id)!;
      const next = new FanOut(targets, logger);
      const component = entry.create({ id, logger, decoder: this.decodePool, auth }, next);
      this.receivers.set(id, component);
      for (const stats of Object.values(component.statsByTransport))
        stats.observer = this.cardinality;
      if (next.encoded) this.relays.set(id, next.encoded.formats);
    }
  }

  /**
   * Starts `chain`, a pipeline's processors opened for one partition: their points are
   * counted with the pipeline's own (`shared`), their drops listed beside them while open.
   */
  async #openPartition(chain: Chain, shared: ProcessorEntry[]): Promise<PartitionChain> {
    const started: Processor[] = [];
    const close = async ({ deadlineMs }: { deadlineMs: number }) => {
      const until = Date.now() + deadlineMs;
      for (const component of started) {
        await component.shutdown({ deadlineMs: Math.max(0, until - Date.now()) });
      }
      chain.processors.forEach(({ component }, k) => {
        if (!shared[k].partitions.delete(component)) return;
        const closed = shared[k].closedPartitions;
        for (const [reason, points] of Object.entries(component.dropped)) {
          countDrop(closed.dropped, reason, points);
        }
        closed.unreadableState += component.unreadableState ?? 0;
      });
    };
    try {
      for (const [k, { component }] of chain.processors.entries()) {
        await component.start();
        started.push(component);
        shared[k].partitions.add(component);
      }
    } catch (err) {
      await close({ deadlineMs: 5_000 }).catch(() => {});
      throw err;
    }
    return { consumer: chain.entry, close };
  }

  /** Exporter `id` as a pipeline's fan-out target: its incoming points counted. */
  #countedExporter(id: string): Consumer {
    const exporter = this.exporters.get(id)!;
    const counts = this.exporterCounts.get(id)!;
    return {
      consume: (batch) => {
        counts.in += batch.pointCount;
        return exporter.consume(batch);
      },
      encoded: encodedPathThrough(exporter, (request) => {
        counts.in += request.points;
      }),
      settled: exporter.settled && (() => exporter.settled!()),
    };
  }

  /** The auth extension `id`, enabled in `service.extensions` (checked by the config loader). */
  auth(id: string): AuthExtension {
    return this.#extension(id, isAuthExtension, 'auth.authenticator', 'an auth');
  }

  /** Extension `id` as the kind `is` recognises; the config loader checked the reference. */
  #extension<T extends object>(
    id: string,
    is: (extension: object) => extension is T,
    key: string,
    kind: string,
  ): T {
    const extension = this.extensions.get(id);
    if (!extension || !is(extension)) {
      throw new InvalidArgumentError(key, id, `${kind} extension enabled in service.extensions`);
    }
    return extension;
  }

  /** Every socket the receivers and serving exporters listen on, and what protects it. */
  get listeners(): ListenerProtection[] {
    return [
      ...[...this.receivers.values()].flatMap((r) => r.listeners ?? []),
      ...[...this.exporters.values()].flatMap((e) => e.listeners ?? []),
    ];
  }

  /** Ready when every receiver listens. */
  get ready(): boolean {
    return [...this.receivers.values()].every((r) => r.listening);
  }

  get addresses(): string[] {
    return [...this.receivers.values()].flatMap((r) => r.addresses);
  }

  async start(): Promise<void> {
    for (const extension of this.extensions.values()) await extension.start();
    for (const exporter of this.exporters.values()) await exporter.start();
    for (const { component } of this.processors) await component.start();
    for (const receiver of this.receivers.values()) await receiver.start();
    warnAboutExposedListeners(this.listeners, this.#logger);
    for (const [receiver, formats] of this.relays) {
      this.#logger.info(
        { receiver, formats },
        'relaying requests as they come: the pipelines need no points, so checked bodies are carried to the exporters undecoded',
      );
    }
  }

  shutdown(deadlineMs = 30_000): Promise<void> {
    this.#shutdown ??= (async () => {
      const until = Date.now() + deadlineMs;
      const left = () => Math.max(0, until - Date.now());
      await Promise.all(
        [...this.receivers.values()].map((r) => r.shutdown({ deadlineMs: left() })),
      );
      // Receivers answered every request they took: nothing is left to decode.
      await this.decodePool.close();
      for (const { component } of this.processors) await component.shutdown({ deadlineMs: left() });
      await Promise.all(
        [...this.exporters.values()].map((e) => e.shutdown({ deadlineMs: left() })),
      );
      for (const extension of [...this.extensions.values()].reverse())
        await extension.shutdown({ deadlineMs: left() });
      this.#logger.info('collector stopped');
    })();
    return this.#shutdown;
  }
}

/** A processor of a pipeline, with the points that went into and out of it. */
export interface ProcessorEntry {
  pipeline: string;
  id: string;
  component: Processor;
  counts: { in: number; out: number };
  /** The same processor in chains open for one partition each (see `openPartition`). */
  partitions: Set<Processor>;
  /** What the chains closed since counted (so that the sums never go down). */
  closedPartitions: { dropped: Record<string, number>; unreadableState: number };
}

/** Points processor `entry` dropped, by reason: its own and its partition chains'. */
export function droppedByProcessor(entry: ProcessorEntry): Record<string, number> {
  const dropped = { ...entry.component.dropped };
  for (const from of [
    entry.closedPartitions.dropped,
    ...[...entry.partitions].map((p) => p.dropped),
  ]) {
    for (const [reason, points] of Object.entries(from)) countDrop(dropped, reason, points);
  }
  return dropped;
}

/**
 * Parts of stored state processor `entry` could not read (its own and its partition chains'),
 * or `undefined` for a kind of processor that keeps no state.
 */
export function unreadableStateOf(entry: ProcessorEntry): number | undefined {
  if (entry.component.unreadableState === undefined) return undefined;
  let parts = entry.component.unreadableState + entry.closedPartitions.unreadableState;
  for (const partition of entry.partitions) parts += partition.unreadableState ?? 0;
  return parts;
}

/** A pipeline's processors, first to last, and the consumer that hands batches to the first. */
interface Chain {
  entry: Consumer;
  processors: ProcessorEntry[];
}

/**
 * Builds `pipeline`'s processors, each handing on to the next and the last to `exporters`.
 * Each consumer in between counts the points and passes on every path the component behind
 * it offers (the OTLP fast path, the relay's bytes, `settled`).
 */
function buildChain(
  config: CollectorConfig,
  pipeline: CollectorConfig['pipelines'][number],
  exporters: Consumer,
  settings: Omit<ComponentSettings, 'id'>,
  counts?: readonly ProcessorEntry['counts'][],
): Chain {
  let next = exporters;
  const processors: ProcessorEntry[] = [];
  for (const [k, id] of [...pipeline.processors.entries()].reverse()) {
    const entry = config.processors.get(id)!;
    const count = counts?.[k] ?? { in: 0, out: 0 };
    const downstream = next;
    const component = entry.create(
      { ...settings, id },
      {
        consume: (batch) => {
          count.out += batch.pointCount;
          return downstream.consume(batch);
        },
        consumeOtlpProtobuf:
          downstream.consumeOtlpProtobuf &&
          counted(downstream.consumeOtlpProtobuf.bind(downstream), count, 'out'),
        encoded: encodedPathThrough(downstream, (request) => {
          count.out += request.points;
        }),
        settled: downstream.settled && (() => downstream.settled!()),
      },
    );
    processors.unshift({
      pipeline: pipeline.name,
      id,
      component,
      counts: count,
      partitions: new Set(),
      closedPartitions: { dropped: {}, unreadableState: 0 },
    });
    const take = fastPathOf(component);
    next = {
      consume: (batch) => {
        count.in += batch.pointCount;
        return component.consume(batch);
      },
      consumeOtlpProtobuf: take && counted(take, count, 'in'),
      encoded: encodedPathThrough(component, (request) => {
        count.in += request.points;
      }),
      settled: component.settled && (() => component.settled!()),
    };
  }
  return { entry: next, processors };
}

function isStorage(extension: object): extension is Storage {
  return typeof (extension as Partial<Storage>).settingsFor === 'function';
}
