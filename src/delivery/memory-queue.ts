import { snappyDeclaredLength } from '../codec/prometheus/snappy-block.js';
import { measureMetricsRequest, measurePointMessages } from '../codec/protobuf/encode-request.js';
import { concatRequests, type EncodedRequest } from '../codec/protobuf/encoded-request.js';
import { BatchCopier } from '../model/batch-copier.js';
import { formatOf } from '../model/encoded-request.js';
import { MetricBatch } from '../model/metric-batch.js';
import { cutPart } from './batch-cutter.js';
import { QueueFullError } from './errors.js';
import { FlushRequests } from './flush-requests.js';
import type { StorageStats } from './persistent/persistent-queue.js';
import { WakeList } from './wake-list.js';

export type WhenFull = 'block' | 'drop_newest' | 'reject';

export interface QueueOptions {
  /** Most points held at once. */
  maxPoints: number;
  /** Most encoded bytes held at once (OTLP protobuf size). */
  maxBytes: number;
  /** What `offer` does when the batch does not fit. */
  whenFull: WhenFull;
  /** With `block`: how long an offer may wait for room before it is refused (0: forever). */
  blockTimeoutMs: number;
}

export const DEFAULT_QUEUE: QueueOptions = {
  maxPoints: 1_000_000,
  maxBytes: 256 * 1024 * 1024,
  whenFull: 'reject',
  blockTimeoutMs: 30_000,
};

/**
 * What the queue holds: batches, or requests their producer already encoded (those are
 * never cut: the producer keeps them within the request limits).
 */
export type Payload = MetricBatch | EncodedRequest;

export function payloadPoints(payload: Payload): number {
  return payload instanceof MetricBatch ? payload.pointCount : payload.points;
}

/** One accepted batch, settled once every part of it was delivered or dead-lettered. */
export class Ticket {
  readonly seq: number;
  /** Parts not settled yet: 1, plus one for every split. */
  pending = 1;
  constructor(seq: number) {
    this.seq = seq;
  }
}

interface Entry {
  batch: Payload;
  /** First point of `batch` not handed out yet (a large batch leaves in several parts). */
  offset: number;
  points: number;
  /**
   * Encoded size of what is left: exact until a part was cut off, then an estimate (the
   * parts repeat the resource, scope and metric headers), which is why a cut entry only
   * ever leaves through `#cutHead`, measured.
   */
  bytes: number;
  /** Each point's message size, once the entry is being cut (`measurePointMessages`). */
  pointBytes?: Uint32Array;
  ticket: Ticket;
  enqueuedAt: number;
}

/** A batch ready to send: queued batches merged (or a large one's first part). */
export interface Work {
  batch: Payload;
  points: number;
  bytes: number;
  tickets: Ticket[];
  /** A persistent queue's records in it, by sequence number (settled by `complete`). */
  stored?: readonly number[];
}

export type OfferResult = 'accepted' | 'dropped';

/**
 * What the delivery engine needs from a queue. `MemoryQueue` is the in-memory one;
 * `PersistentQueue` implements the same contract, with `offer` resolving only once the batch
 * is stored (to its fsync policy).
 */
export interface Queue {
  readonly options: QueueOptions;
  /**
   * What is queued survives a restart: at shutdown the engine leaves unsent work where it is
   * instead of dead-lettering it, and stops retrying at once.
   */
  readonly durable: boolean;
  /** What a persistent queue holds on disk and found at start (self-metrics). */
  readonly storage?: StorageStats;
  /** Points, encoded bytes and entries held now. */
  readonly points: number;
  readonly bytes: number;
  readonly length: number;
  /**
   * A refusal every offer would get now, whatever its size: a `reject` queue with no room
   * left. Receivers ask before they decode a request (see `EncodedPath.refusing`).
   */
  refusing?(): QueueFullError | undefined;
  /** `droppedOldest`: points dropped to make room (`drop_oldest`). */
  offer(
    batch: Payload,
    signal?: AbortSignal,
  ): Promise<{ result: OfferResult; ticket?: Ticket; bytes: number; droppedOldest?: number }>;
  take(
    maxPoints: number,
    maxBytes: number,
    flushIntervalMs: number,
    signal?: AbortSignal,
  ): Promise<Work | undefined>;
  beginFlush(): () => void;
  close(): void;
  drain(): Work[];
  /** Work the engine is done with: delivered, dead-lettered or dropped. */
  complete(work: Work): void;
  /** Prepares the queue (a persistent one recovers what it holds); rejects when it cannot. */
  open?(): Promise<void>;
  /** Lets go of files and locks once the engine stopped. */
  dispose?(): Promise<void>;
}

/**
 * The bounded in-memory queue in front of an exporter, measured in points and in encoded
 * bytes. Consumers `take` work: queued batches merged up to the batch limits (large ones
 * split), as soon as enough is queued or the oldest batch waited `flushIntervalMs`.
 * The same interface will front a persistent queue.
 */
export class MemoryQueue implements Queue {
  readonly options: QueueOptions;
  readonly durable = false;
  #entries: Entry[] = [];
  #head = 0;
  #points = 0;
  #bytes = 0;
  #seq = 0;
  #closed = false;
  #dataQueued = new WakeList();
  readonly #flushes = new FlushRequests(this.#dataQueued);
  #spaceFreed = new WakeList();

  readonly #release: (batch: Payload) => void;

  /** `release` gets every payload the queue copied and will not touch again (for reuse). */
  constructor(options: QueueOptions, release: (batch: Payload) => void = () => {}) {
    this.options = options;
    this.#release = release;
  }

  get points(): number {
    return this.#points;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get length(): number {
    return this.#entries.length - this.#head;
  }

  refusing(): QueueFullError | undefined {
    const { maxPoints, maxBytes, whenFull } = this.options;
    if (whenFull !== 'reject' || (this.#points < maxPoints && this.#bytes < maxBytes)) return;
    return new QueueFullError(
      `queue full: ${this.#points}/${maxPoints} points, ${this.#bytes}/${maxBytes} bytes; request refused before it was read`,
    );
  }

  /**
   * Queues `batch`. Resolves `accepted` with its ticket once it is in; when it does not fit:
   * `block` waits for room (or `signal`), `drop_newest` resolves `dropped`, `reject` throws
   * `QueueFullError`. A batch larger than the whole queue is refused in every mode.
   */
  async offer(
    batch: Payload,
    signal?: AbortSignal,
  ): Promise<{ result: OfferResult; ticket?: Ticket; bytes: number }> {
    const points = payloadPoints(batch);
    // What it holds: a relayed request may also hold its body as the client gzipped it.
    const bytes =
      batch instanceof MetricBatch
        ? measureMetricsRequest(batch)
        : batch.bytes.length + (batch.gzipped?.length ?? 0);
    const { maxPoints, maxBytes, whenFull } = this.options;
    if (points > maxPoints || bytes > maxBytes) {
      throw new QueueFullError(
        `batch of ${points} points (${bytes} bytes) exceeds the whole queue (${maxPoints} points, ${maxBytes} bytes): raise queue.max_points / queue.max_bytes`,
      );
    }
    const { blockTimeoutMs } = this.options;
    const giveUpAt = blockTimeoutMs > 0 ? Date.now() + blockTimeoutMs : Number.POSITIVE_INFINITY;
    while (this.#points + points > maxPoints || this.#bytes + bytes > maxBytes) {
      if (whenFull === 'drop_newest') return { result: 'dropped', bytes };
      const waited = whenFull === 'block' && Date.now() >= giveUpAt;
      if (whenFull === 'reject' || waited || this.#closed || signal?.aborted) {
        throw new QueueFullError(
          `queue full${waited ? ` for ${blockTimeoutMs} ms` : ''}: ${this.#points}/${maxPoints} points, ${this.#bytes}/${maxBytes} bytes; refused ${points} points`,
        );
      }
      await this.#spaceFreed.wait(giveUpAt - Date.now(), signal);
    }
    const ticket = new Ticket(++this.#seq);
    this.#entries.push({ batch, offset: 0, points, bytes, ticket, enqueuedAt: Date.now() });
    this.#points += points;
    this.#bytes += bytes;
    this.#dataQueued.wakeAll();
    return { result: 'accepted', ticket, bytes };
  }

  /**
   * The next work, at most `maxPoints` points and about `maxBytes` bytes. Waits until that
   * much is queued, the oldest entry is `flushIntervalMs` old, a flush was requested or the
   * queue closed; resolves undefined when closed and empty, or when `signal` aborts.
   */
  async take(
    maxPoints: number,
    maxBytes: number,
    flushIntervalMs: number,
    signal?: AbortSignal,
  ): Promise<Work | undefined> {
    for (;;) {
      if (signal?.aborted) return undefined;
      if (this.length === 0) {
        if (this.#closed) return undefined;
        await this.#dataQueued.wait(undefined, signal);
        continue;
      }
      const age = Date.now() - this.#entries[this.#head].enqueuedAt;
      if (
        this.#points >= maxPoints ||
        this.#bytes >= maxBytes ||
        age >= flushIntervalMs ||
        this.#flushes.active ||
        this.#closed
      ) {
        return this.#assemble(maxPoints, maxBytes);
      }
      await this.#dataQueued.wait(flushIntervalMs - age, signal);
    }
  }

  /** Makes `take` hand out what is queued now without waiting for the interval. */
  beginFlush(): () => void {
    return this.#flushes.begin();
  }

  /** No more offers; consumers drain what is left, then `take` returns undefined. */
  close(): void {
    this.#closed = true;
    this.#dataQueued.wakeAll();
    this.#spaceFreed.wakeAll();
  }

  complete(): void {}

  /** Removes and returns everything queued (shutdown past its deadline). */
  drain(): Work[] {
    const out: Work[] = [];
    while (this.length > 0) {
      const entry = this.#shift();
      out.push({
        batch: this.#remainder(entry),
        points: entry.points,
        bytes: entry.bytes,
        tickets: [entry.ticket],
      });
    }
    return out;
  }

  #assemble(maxPoints: number, maxBytes: number): Work {
    const first = this.#entries[this.#head];
    const kind = kindOf(first.batch);
    const encoded = kind !== 'batch';
    if (!encoded && (first.offset > 0 || first.points > maxPoints || first.bytes > maxBytes)) {
      return this.#cutHead(maxPoints, maxBytes);
    }
    // Uncut entries carry their exact size, and a merged request is no larger than the sum
    // of its parts (it can only share their resource, scope and metric headers).
    const taken: Entry[] = [];
    let points = 0;
    let bytes = 0;
    // Against `maxBytes`: what the backend reads, uncompressed.
    let requestBytes = 0;
    while (this.length > 0) {
      const entry = this.#entries[this.#head];
      // Batches merge with batches and encoded requests with those of their format and
      // compression only (a relay's remote write travels as the client compressed it).
      const size = uncompressedSize(entry);
      if (
        taken.length > 0 &&
        (points + entry.points > maxPoints ||
          requestBytes + size > maxBytes ||
          kindOf(entry.batch) !== kind ||
          entry.offset > 0)
      )
        break;
      taken.push(this.#shift());
      points += entry.points;
      bytes += entry.bytes;
      requestBytes += size;
    }
    if (taken.length === 1)
      return { batch: taken[0].batch, points, bytes, tickets: [taken[0].ticket] };
    const tickets = taken.map((e) => e.ticket);
    if (encoded) {
      const merged = concatRequests(taken.map((e) => e.batch as EncodedRequest));
      for (const entry of taken) this.#release(entry.batch);
      return { batch: merged, points, bytes: merged.bytes.length, tickets };
    }
    const copier = new BatchCopier(new MetricBatch({ points, attributeBytes: points * 192 }));
    for (const entry of taken) {
      copier.append(entry.batch as MetricBatch, entry.offset);
      this.#release(entry.batch);
    }
    return { batch: copier.target, points, bytes, tickets };
  }

  /**
   * Cuts the largest part that fits off the front of the head entry (`cutPart`); the rest
   * stays queued, uncopied (it stays in the original batch, from `offset` on), so cutting a
   * large batch into n parts copies it once, not n times.
   */
  #cutHead(maxPoints: number, maxBytes: number): Work {
    const entry = this.#entries[this.#head];
    const batch = entry.batch as MetricBatch;
    const from = entry.offset;
    entry.pointBytes ??= measurePointMessages(batch);
    const {
      batch: head,
      count,
      bytes: headBytes,
    } = cutPart(batch, from, entry.points, entry.pointBytes, maxPoints, maxBytes);
    if (count === entry.points) {
      this.#shift();
      this.#release(batch);
      return { batch: head, points: count, bytes: headBytes, tickets: [entry.ticket] };
    }
    const restBytes = Math.max(0, entry.bytes - headBytes);
    this.#points -= count;
    this.#bytes += restBytes - entry.bytes;
    entry.offset += count;
    entry.points -= count;
    entry.bytes = restBytes;
    entry.ticket.pending++;
    this.#spaceFreed.wakeAll();
    return { batch: head, points: count, bytes: headBytes, tickets: [entry.ticket] };
  }

  /** What is left of an entry's batch as a batch of its own. */
  #remainder(entry: Entry): Payload {
    if (entry.offset === 0) return entry.batch;
    const rest = new BatchCopier();
    rest.append(entry.batch as MetricBatch, entry.offset);
    this.#release(entry.batch);
    return rest.target;
  }

  #shift(): Entry {
    const entry = this.#entries[this.#head];
    this.#entries[this.#head] = undefined as unknown as Entry;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    this.#points -= entry.points;
    this.#bytes -= entry.bytes;
    this.#spaceFreed.wakeAll();
    return entry;
  }
}

/** What a payload merges with: batches, or encoded requests of one format and compression. */
function kindOf(payload: Payload): string {
  if (payload instanceof MetricBatch) return 'batch';
  return payload.compression ? `${formatOf(payload)}+${payload.compression}` : formatOf(payload);
}

/** An entry's size as its request's receiver reads it: a compressed one's declared length. */
function uncompressedSize(entry: Entry): number {
  const { batch } = entry;
  if (batch instanceof MetricBatch) return entry.bytes;
  if (batch.compression === undefined) return batch.bytes.length;
  return snappyDeclaredLength(batch.bytes).length;
}
