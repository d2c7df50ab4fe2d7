import { setTimeout as sleep } from 'node:timers/promises';
import type { MeterProvider } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';
import { decodeWriteRequest } from '../codec/prometheus/remote-write.js';
import { remoteWriteToBatch } from '../codec/prometheus/remote-write-to-batch.js';
import { uncompressSnappy } from '../codec/prometheus/snappy-block.js';
import { decodeMetricsRequest } from '../codec/protobuf/decode-request.js';
import { encodeMetricsRequest } from '../codec/protobuf/encode-request.js';
import { requestBytes } from '../model/byte-pool.js';
import {
  type EncodedFormat,
  type EncodedRequest,
  formatOf,
  giveBack,
} from '../model/encoded-request.js';
import { InvalidArgumentError } from '../model/errors.js';
import { MetricBatch } from '../model/metric-batch.js';
import { redactSecrets } from '../model/redact.js';
import { RateLimitedLog } from '../telemetry/rate-limited-log.js';
import { Backoff, type RetryOptions, resolveRetryOptions } from './backoff.js';
import {
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
  DEFAULT_CIRCUIT_BREAKER,
} from './circuit-breaker.js';
import { DeadLetterWriter } from './dead-letters.js';
import { add, DeliveryStats } from './delivery-stats.js';
import {
  PermanentError,
  type QueueFullError,
  RetryableError,
  ShutdownError,
  ThrottleError,
} from './errors.js';
import { type EventLoopBudget, sharedEventLoopBudget } from './event-loop-budget.js';
import { InFlightSeries, type SeriesHold, seriesKeysOfBatch } from './in-flight-series.js';
import {
  DEFAULT_QUEUE,
  MemoryQueue,
  type Payload,
  payloadPoints,
  type Queue,
  type QueueOptions,
  type Ticket,
  type Work,
} from './memory-queue.js';
import { PersistentQueue, type PersistentQueueOptions } from './persistent/persistent-queue.js';
import { SelfMetrics } from './self-metrics.js';
import { encodedFormats, type Sender } from './sender.js';

export interface BatchOptions {
  /** Most points per request. */
  maxPoints: number;
  /** Most encoded bytes per request (defaults well under gRPC's 4 MiB). */
  maxBytes: number;
  /** Send what is queued after this long even if the batch is not full. */
  flushIntervalMs: number;
}

export const DEFAULT_BATCH: BatchOptions = {
  maxPoints: 8192,
  maxBytes: 3 * 1024 * 1024,
  flushIntervalMs: 200,
};

export interface DeliveryOptions {
  sender: Sender;
  queue?: Partial<QueueOptions>;
  batch?: Partial<BatchOptions>;
  /** Concurrent sends. */
  numConsumers?: number;
  retry?: Partial<RetryOptions>;
  /** Per send attempt. */
  timeoutMs?: number;
  /** `false` turns the breaker off. */
  circuitBreaker?: Partial<CircuitBreakerOptions> | false;
  /**
   * Queue on disk instead of in memory (`queue` limits do not apply then): requests survive
   * a crash and wait out outages longer than memory could. `open()` recovers what it holds.
   */
  storage?: Omit<
    PersistentQueueOptions,
    'maxRequestPoints' | 'maxRequestBytes' | 'decode' | 'logger' | 'release'
  >;
  /** Where undeliverable requests are written; without it they are counted and logged. */
  deadLetterDir?: string;
  logger?: Logger;
  /** How often repeated retry/drop logs are summarised. */
  logIntervalMs?: number;
  /**
   * Called with every batch (or encoded request) the engine is done with (sent,
   * dead-lettered, or copied into a merged one), so a producer can reuse its memory. The
   * engine never touches it again.
   */
  releaseBatch?: (batch: Payload) => void;
  /**
   * `per_series` (default): points of one series are delivered in order even with several
   * consumers (cumulative and gauge points; delta points are independent). `none`: no order.
   */
  ordering?: 'per_series' | 'none';
  /** Shared with whoever else does heavy work on this event loop; the process-wide one by default. */
  eventLoopBudget?: EventLoopBudget;
  /** Where the engine's own metrics go; the global meter provider by default, `false` for none. */
  meterProvider?: MeterProvider | false;
}

export interface ShutdownOptions {
  /** How long to keep delivering before the rest goes to dead letters. */
  deadlineMs?: number;
}

/**
 * The delivery engine in front of one destination: a bounded queue, consumers that merge and
 * split batches to the request limits, retries with exponential backoff and jitter (honouring
 * the backend's Retry-After), a circuit breaker, dead letters, and a shutdown with a deadline.
 *
 * Invariant: every accepted point ends up sent, refused by the backend in a partial success,
 * written to a dead letter, or counted as dropped with its reason — `stats` says which.
 */
export class DeliveryEngine {
  readonly stats = new DeliveryStats();
  /** Where it sends, as shown in logs and on the dashboard (credentials redacted). */
  readonly destination: string;
  readonly queue: Queue;
  /**
   * The encoded formats the engine takes and sends as they are: its sender's (`sendEncoded`,
   * `sendRemoteWrite`), remote write only through a memory queue (persistent records are OTLP).
   */
  readonly formats: readonly EncodedFormat[];
  /**
   * Whether it keeps the body a relayed OTLP request came in as its client gzipped it
   * (`EncodedRequest.gzipped`), to send it as it is when the request goes out alone: its
   * sender sends gzip (`Sender.sendsGzip`), from a memory queue (persistent records are
   * uncompressed OTLP).
   */
  readonly gzip: boolean;
  readonly #sender: Sender;
  readonly #batch: BatchOptions;
  readonly #retry: RetryOptions;
  readonly #timeoutMs: number;
  readonly #numConsumers: number;
  readonly #breaker: CircuitBreaker | undefined;
  readonly #deadLetters: DeadLetterWriter | undefined;
  readonly #logger: Logger;
  readonly #log: RateLimitedLog;
  readonly #release: (batch: Payload) => void;
  readonly #selfMetrics: SelfMetrics | undefined;
  /** Aborts waits and in-flight sends once the shutdown deadline has passed. */
  readonly #abort = new AbortController();
  /**
   * Aborts waits for a retry or the breaker: at the deadline, or (with a durable queue, where
   * what is not sent stays stored) as soon as shutdown begins.
   */
  readonly #stopping = new AbortController();
  readonly #stopSignal = AbortSignal.any([this.#abort.signal, this.#stopping.signal]);
  #unsettled = new Map<number, Ticket>();
  #flushWaiters: { seq: number; resolve: () => void }[] = [];
  #consumers: Promise<void>[] = [];
  readonly #inFlight = new InFlightSeries();
  readonly #ordered: boolean;
  readonly #budget: EventLoopBudget;
  #started = false;
  #accepting = true;
  #shutdown: Promise<void> | undefined;

  constructor(options: DeliveryOptions) {
    this.#sender = options.sender;
    // By default, sent requests' bytes go back to the process's request buffers (a caller
    // with buffers of its own, the SDK exporter, keeps them instead).
    this.#release =
      options.releaseBatch ??
      ((payload) => {
        if (!(payload instanceof MetricBatch)) giveBack(payload);
      });
    this.#batch = { ...DEFAULT_BATCH, ...options.batch };
    // A URL's password or token (`http://user:pass@host`, `?token=`) never reaches a log
    // line, the dashboard or an error message.
    this.destination = String(redactSecrets(this.#sender.destination));
    this.#logger = (options.logger ?? pino({ name: 'sluice' })).child({
      destination: this.destination,
    });
    this.queue = options.storage
      ? new PersistentQueue({
          ...options.storage,
          maxRequestPoints: this.#batch.maxPoints,
          maxRequestBytes: this.#batch.maxBytes,
          decode: !this.#sender.sendEncoded,
          logger: this.#logger,
          release: this.#release,
        })
      : new MemoryQueue({ ...DEFAULT_QUEUE, ...options.queue }, this.#release);
    this.formats = encodedFormats(this.#sender, options.storage !== undefined);
    this.gzip = this.#sender.sendsGzip === true && options.storage === undefined;
    this.#retry = resolveRetryOptions(options.retry);
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#numConsumers = options.numConsumers ?? 4;
    this.#ordered = (options.ordering ?? 'per_series') === 'per_series';
    this.#budget = options.eventLoopBudget ?? sharedEventLoopBudget;
    if (!(Number.isInteger(this.#numConsumers) && this.#numConsumers >= 1)) {
      throw new InvalidArgumentError('numConsumers', options.numConsumers, 'a whole number ≥ 1');
    }
    if (!(this.#batch.maxPoints >= 1)) {
      throw new InvalidArgumentError('batch.maxPoints', this.#batch.maxPoints, 'a number ≥ 1');
    }
    this.#log = new RateLimitedLog(this.#logger, options.logIntervalMs);
    if (options.circuitBreaker !== false) {
      this.#breaker = new CircuitBreaker(
        { ...DEFAULT_CIRCUIT_BREAKER, ...options.circuitBreaker },
        (state, failures) => {
          this.#logger.warn(
            { breaker: state, consecutiveFailures: failures },
            `circuit breaker ${state}`,
          );
        },
      );
    }
    if (options.deadLetterDir) this.#deadLetters = new DeadLetterWriter(options.deadLetterDir);
    if (options.meterProvider !== false)
      this.#selfMetrics = new SelfMetrics(this, options.meterProvider);
  }

  /** The circuit breaker's state, or undefined when it is off. */
  get breakerState(): BreakerState | undefined {
    return this.#breaker?.state;
  }

  /**
   * Prepares the queue: a persistent one locks its directory and recovers what is stored
   * (rejects with `StorageError` when it cannot). Idempotent; `start` does not wait for it.
   */
  async open(): Promise<void> {
    await this.queue.open?.();
  }

  /** Starts the consumers (idempotent); `consume` calls it too. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#consumers.push(this.#dispatch());
  }

  /**
   * The refusal `consume` would answer any request with now (a `reject` queue with no room
   * left), for a receiver to send before it reads the request: under sustained overload a
   * refused request then costs no decompression, check or decode.
   */
  refusing(): QueueFullError | undefined {
    return this.#accepting ? this.queue.refusing?.() : undefined;
  }

  /**
   * Accepts `batch` into the queue (the caller must not touch it afterwards). Resolves once
   * it is queued; rejects with `QueueFullError` or `ShutdownError` when it was not, so the
   * caller knows. With `when_full: drop_newest` a full queue drops it, counted and logged.
   * An `EncodedRequest` goes to the sender as it is (`sendEncoded`, which it must have).
   */
  async consume(batch: Payload): Promise<void> {
    if (!(batch instanceof MetricBatch)) {
      // A body as its client gzipped it goes out only from an engine that sends gzip, and
      // only with its request whole.
      if (batch.gzipped && (!this.gzip || this.#overLimits(batch)))
        batch = this.#withoutGzipped(batch);
      // A request as it came (a relay's) over `batch.max_points` or `max_bytes` is decoded, so
      // the queue cuts it into requests the backend was promised, as it cuts a batch.
      if (this.#overLimits(batch)) batch = decoded(batch);
    }
    const points = payloadPoints(batch);
    if (!(batch instanceof MetricBatch) && !this.formats.includes(formatOf(batch))) {
      throw new InvalidArgumentError(
        'batch',
        `an encoded request (${formatOf(batch)})`,
        this.formats.length > 0
          ? `a MetricBatch or a request the sender to ${this.destination} sends as it is (${this.formats.join(', ')})`
          : `a MetricBatch: the sender to ${this.destination} takes batches only`,
      );
    }
    if (!this.#accepting) {
      add(this.stats.refused, 'shutdown', points);
      throw new ShutdownError(
        `exporter to ${this.destination} is shut down; ${points} points refused`,
      );
    }
    if (points === 0) return;
    this.start();
    let offered: Awaited<ReturnType<Queue['offer']>>;
    try {
      offered = await this.queue.offer(batch, this.#abort.signal);
    } catch (err) {
      const storage = (err as { code?: string }).code === 'SLUICE_ERR_STORAGE';
      add(this.stats.refused, storage ? 'storage_error' : 'queue_full', points);
      this.#log.note(
        storage ? 'refused:storage' : 'refused',
        'warn',
        storage ? 'persistent queue cannot store: batch refused' : 'queue full: batch refused',
        {
          queuePoints: this.queue.points,
          queueBytes: this.queue.bytes,
          error: (err as Error).message,
        },
        points,
      );
      throw err;
    }
    if (offered.droppedOldest) {
      add(this.stats.dropped, 'drop_oldest', offered.droppedOldest);
      this.#log.note(
        'dropped:drop_oldest',
        'warn',
        'persistent queue full: dropped the oldest requests',
        { queueBytes: this.queue.bytes },
        offered.droppedOldest,
      );
    }
    if (offered.result === 'dropped') {
      this.stats.accepted += points;
      add(this.stats.dropped, 'queue_full', points);
      this.#log.note(
        'dropped:queue_full',
        'warn',
        'queue full: dropped newest batch',
        { queuePoints: this.queue.points },
        points,
      );
      return;
    }
    const ticket = offered.ticket!;
    this.stats.accepted += points;
    this.#unsettled.set(ticket.seq, ticket);
  }

  /**
   * `request` without its gzipped body, given back to the request buffers it came in (a
   * receiver's): it will not go out alone as it came.
   */
  #withoutGzipped(request: EncodedRequest): EncodedRequest {
    if (request.gzipped) requestBytes.give(request.gzipped);
    return { ...request, gzipped: undefined };
  }

  #overLimits(request: EncodedRequest): boolean {
    return request.points > this.#batch.maxPoints || request.bytes.length > this.#batch.maxBytes;
  }

  /** Resolves when everything accepted so far was delivered, dead-lettered or dropped. */
  async forceFlush(): Promise<void> {
    if (this.#lastSeq() === undefined) return;
    const endFlush = this.queue.beginFlush();
    try {
      await this.settled();
    } finally {
      endFlush();
    }
  }

  /**
   * Resolves once everything accepted so far has left for good: sent, dead-lettered or
   * dropped (see `Consumer.settled`). Unlike `forceFlush` it does not hurry the queue.
   */
  async settled(): Promise<void> {
    const last = this.#lastSeq();
    if (last === undefined) return;
    await new Promise<void>((resolve) => {
      this.#flushWaiters.push({ seq: last, resolve });
      this.#checkFlushWaiters();
    });
  }

  /**
   * Stops accepting, sends what is queued, and after `deadlineMs` aborts what is still in
   * flight or queued into dead letters. Idempotent.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    this.#shutdown ??= this.#doShutdown(options.deadlineMs ?? 30_000);
    return this.#shutdown;
  }

  async #doShutdown(deadlineMs: number): Promise<void> {
    this.#accepting = false;
    this.queue.close();
    if (this.queue.durable) this.#stopping.abort();
    const drained = Promise.all(this.#consumers);
    const deadline = sleep(deadlineMs, 'deadline', { ref: false });
    const outcome = await Promise.race([drained.then(() => 'drained'), deadline]);
    if (outcome === 'deadline') {
      this.#logger.warn(
        { deadlineMs, queuedPoints: this.queue.points },
        'shutdown deadline reached: the rest goes to dead letters',
      );
      this.#abort.abort();
      this.#breaker?.close();
      for (const work of this.queue.drain()) await this.#deadLetter(work, 'shutdown', undefined);
      await drained;
    }
    this.#breaker?.close();
    await this.#sender.close?.();
    await this.queue.dispose?.();
    this.#log.flush();
    this.#selfMetrics?.close();
    this.#logger.info({ stats: this.stats.toJSON() }, 'exporter shut down');
  }

  /**
   * Takes work off the queue in order and runs up to `numConsumers` deliveries at once.
   * Work that shares a series with a delivery still in flight (a retry, a slow request)
   * waits for it, so points of one series reach the backend in order; unrelated work
   * proceeds in parallel. Delta points carry no such constraint and are not tracked.
   */
  async #dispatch(): Promise<void> {
    const { maxPoints, maxBytes, flushIntervalMs } = this.#batch;
    const signal = this.#stopSignal;
    const running = new Set<Promise<void>>();
    for (;;) {
      while (running.size >= this.#numConsumers) await Promise.race(running);
      await this.#breaker?.whenReady(signal);
      // Taking work merges batches and starting a delivery encodes a request, both
      // synchronously: within the turn's budget, shared with the converter and the others.
      await this.#budget.take();
      const work = await this.queue.take(maxPoints, maxBytes, flushIntervalMs, signal);
      if (work === undefined) break;
      const hold = this.#ordered ? await this.#admit(work.batch) : undefined;
      const delivery: Promise<void> = this.#deliver(work).finally(() => {
        running.delete(delivery);
        if (hold) this.#inFlight.release(hold);
      });
      running.add(delivery);
    }
    await Promise.all(running);
  }

  /** Waits until no delivery in flight holds a series of `payload` (see `InFlightSeries`). */
  #admit(payload: Payload): Promise<SeriesHold> | undefined {
    if (payload instanceof MetricBatch) {
      const keys = seriesKeysOfBatch(payload);
      return keys && this.#inFlight.admit(keys, undefined);
    }
    return payload.seriesKeys && this.#inFlight.admit(payload.seriesKeys, payload.collection);
  }

  async #deliver(work: Work): Promise<void> {
    if (work.bytes > this.#batch.maxBytes) {
      // Only a single point can be over the limit (the queue cuts everything else to fit):
      // no backend takes a request larger than it was told to expect, so do not send it.
      const error = new PermanentError(
        `a request of ${work.points} point${work.points === 1 ? '' : 's'} and ${work.bytes} bytes is over batch.max_bytes (${this.#batch.maxBytes}): raise batch.max_bytes to send points this large`,
      );
      return this.#deadLetter(work, 'too_large', error);
    }
    const backoff = new Backoff(this.#retry);
    const started = Date.now();
    const stop = this.#stopSignal;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.#breaker?.whenReady(stop);
      if (stop.aborted) return this.#stopped(work, undefined);
      const attemptSignal = AbortSignal.any([
        this.#abort.signal,
        AbortSignal.timeout(this.#timeoutMs),
      ]);
      let error: PermanentError | RetryableError;
      const sentAt = performance.now();
      try {
        if (attempt > 0) await this.#budget.take();
        this.stats.requests++;
        const payload = work.batch;
        const result =
          payload instanceof MetricBatch
            ? await this.#sender.send(payload, attemptSignal)
            : formatOf(payload) === 'prometheus-remote-write'
              ? await this.#sender.sendRemoteWrite!(
                  payload.bytes,
                  attemptSignal,
                  payload.compression,
                )
              : await this.#sender.sendEncoded!(payload.bytes, attemptSignal, payload.gzipped);
        this.#selfMetrics?.recordSend((performance.now() - sentAt) / 1000, 'success');
        this.#breaker?.recordSuccess();
        const rejected = Math.min(work.points, Math.max(0, result.rejectedPoints));
        this.stats.sent += work.points - rejected;
        this.stats.rejected += rejected;
        if (rejected > 0 || result.message) {
          this.#log.note(
            'partial_success',
            'warn',
            'backend accepted the request partially',
            { message: result.message },
            rejected,
          );
        }
        this.#settle(work, true);
        return;
      } catch (err) {
        error = this.#classify(err, attemptSignal);
        const outcome = error instanceof PermanentError ? 'permanent' : 'retryable';
        this.#selfMetrics?.recordSend((performance.now() - sentAt) / 1000, outcome);
      }
      if (stop.aborted) return this.#stopped(work, error);
      if (error instanceof PermanentError) {
        this.#breaker?.recordSuccess(); // the backend answered: it is up
        return this.#deadLetter(work, 'permanent', error);
      }
      this.#breaker?.recordFailure();
      if (!this.#retry.enabled) return this.#deadLetter(work, 'send_failed', error);
      const delay = error instanceof ThrottleError ? error.retryAfterMs : backoff.nextDelayMs();
      const elapsed = Date.now() - started;
      if (this.#retry.maxElapsedMs > 0 && elapsed + delay > this.#retry.maxElapsedMs) {
        return this.#deadLetter(work, 'retries_exhausted', error);
      }
      this.stats.retries++;
      this.#log.note(
        'retry',
        'warn',
        'send failed, will retry',
        { error: error.message, status: error.status, delayMs: delay, attempt: attempt + 1 },
        work.points,
      );
      try {
        await sleep(delay, undefined, { signal: stop });
      } catch {
        return this.#stopped(work, error);
      }
    }
  }

  /**
   * Shutdown ended a delivery: a durable queue keeps the work for the next start (it is not
   * settled, so it stays stored); otherwise it goes to dead letters.
   */
  #stopped(work: Work, error: PermanentError | RetryableError | undefined): Promise<void> {
    if (!this.queue.durable) return this.#deadLetter(work, 'shutdown', error);
    this.#log.note(
      'kept',
      'info',
      'shutdown: unsent requests stay in the persistent queue',
      {},
      work.points,
    );
    return Promise.resolve();
  }

  #classify(err: unknown, signal: AbortSignal): PermanentError | RetryableError {
    if (err instanceof PermanentError || err instanceof RetryableError) return err;
    if (signal.aborted && !this.#abort.signal.aborted) {
      return new RetryableError(`send timed out after ${this.#timeoutMs} ms`, { cause: err });
    }
    if (signal.aborted) return new RetryableError('send aborted by shutdown', { cause: err });
    // Unknown failures (connection reset, DNS, a bug in a sender) are retried: losing data
    // on a transient error is worse than one more attempt.
    return new RetryableError((err as Error)?.message ?? String(err), { cause: err });
  }

  async #deadLetter(
    work: Work,
    reason: string,
    error: PermanentError | RetryableError | undefined,
  ): Promise<void> {
    const status = error?.status;
    const message = error?.message ?? reason;
    if (this.#deadLetters) {
      try {
        const payload = work.batch;
        // Dead letters are OTLP requests (`sluice dlq replay` sends them to any pipeline).
        const bytes =
          payload instanceof MetricBatch
            ? encodeMetricsRequest(payload)
            : formatOf(payload) === 'prometheus-remote-write'
              ? encodeMetricsRequest(decoded(payload))
              : payload.bytes;
        const record = await this.#deadLetters.write(bytes, {
          reason,
          destination: this.destination,
          status,
          message,
          points: work.points,
        });
        add(this.stats.deadLettered, reason, work.points);
        this.#log.note(
          `dead_letter:${reason}`,
          'error',
          `undeliverable (${reason}): written to dead letters`,
          { reason, status, error: message, file: record.file, dir: this.#deadLetters.dir },
          work.points,
        );
        this.#settle(work, false);
        return;
      } catch (writeError) {
        add(this.stats.dropped, `${reason}_dead_letter_failed`, work.points);
        this.#log.note(
          `dropped:${reason}`,
          'error',
          `undeliverable (${reason}) and the dead-letter write failed: dropped`,
          { reason, status, error: message, writeError: (writeError as Error).message },
          work.points,
        );
        this.#settle(work, false);
        return;
      }
    }
    add(this.stats.dropped, reason, work.points);
    this.#log.note(
      `dropped:${reason}`,
      'error',
      `undeliverable (${reason}) and no dead_letter_dir configured: dropped`,
      { reason, status, error: message },
      work.points,
    );
    this.#settle(work, false);
  }

  /**
   * `sent`: the last attempt completed. After a failed one a socket may still hold an
   * encoded request's bytes, so those are not handed back for reuse.
   */
  #settle(work: Work, sent: boolean): void {
    if (sent || work.batch instanceof MetricBatch) this.#release(work.batch);
    this.queue.complete(work);
    for (const ticket of work.tickets) {
      if (--ticket.pending === 0) {
        this.#unsettled.delete(ticket.seq);
      }
    }
    this.#checkFlushWaiters();
  }

  #checkFlushWaiters(): void {
    if (this.#flushWaiters.length === 0) return;
    const oldest = this.#unsettled.keys().next();
    const minUnsettled = oldest.done ? Number.POSITIVE_INFINITY : oldest.value;
    this.#flushWaiters = this.#flushWaiters.filter((waiter) => {
      if (waiter.seq < minUnsettled) {
        waiter.resolve();
        return false;
      }
      return true;
    });
  }

  #lastSeq(): number | undefined {
    let last: number | undefined;
    for (const seq of this.#unsettled.keys()) last = seq;
    return last;
  }
}

/** An encoded request as a batch (its bytes were checked when they were received). */
function decoded(request: EncodedRequest): MetricBatch {
  if (formatOf(request) === 'otlp') return decodeMetricsRequest(request.bytes);
  const bytes = request.compression === 'snappy' ? uncompressSnappy(request.bytes) : request.bytes;
  return remoteWriteToBatch(decodeWriteRequest(bytes));
}
