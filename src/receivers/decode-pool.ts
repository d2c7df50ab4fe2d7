import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { DecodeError, SluiceError } from '../model/errors.js';
import { MetricBatch, type MetricBatchState } from '../model/metric-batch.js';
import { postableBytes } from '../model/postable-bytes.js';
import { decodeRequest, type RequestDecoder, type RequestFormat } from './request-decoder.js';

export interface DecodePoolOptions {
  /** Worker threads; 0 decodes everything on the calling thread. */
  threads: number;
  /**
   * Bodies smaller than this are decoded on the calling thread: a round trip to a worker
   * costs tens of microseconds, more than decoding a few kilobytes.
   */
  minBodyBytes?: number;
  logger: Logger;
  /** The worker's module; the compiled `decode-worker.js` beside this file by default. */
  workerUrl?: URL;
}

export interface DecodeJob {
  id: number;
  format: RequestFormat;
  body: Uint8Array;
}

export type DecodeReply =
  | { id: number; state: MetricBatchState }
  | {
      id: number;
      error: { message: string; code?: string; where?: number | string; expected?: string };
    };

interface Job {
  format: RequestFormat;
  body: Uint8Array;
  resolve: (batch: MetricBatch) => void;
  reject: (error: Error) => void;
}

interface DecodeThread {
  worker: Worker;
  jobs: Map<number, Job>;
  /** Started once: a worker that never came online is not replaced (it would fail again). */
  online: boolean;
}

/** Worker restarts allowed per minute before the pool stops replacing dead workers. */
const MAX_RESTARTS = 10;

/**
 * `auto`: one thread per core beyond two, at most 4. On 2 cores a decode thread competes with
 * the main thread and the system for the second core: measured there (full load, load
 * generator on the same cores), it raised a `batch` pipeline's throughput by 11-18 % and
 * lowered an `aggregate` pipeline's by 2-9 %.
 */
export function decodeThreadsFor(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.min(4, Math.max(0, availableParallelism() - 2)) : setting;
}

/**
 * Decodes request bodies on worker threads, so the main thread keeps to the network and the
 * pipelines: decoding is the largest per-point cost of a receiver (~0.6 µs of OTLP), and
 * stateful processors such as `aggregate` need every point on one thread anyway. Batches
 * come back as typed arrays moved between threads (`MetricBatch.exportState`), not copied.
 *
 * A body is copied to its worker, so if the worker dies its jobs are decoded here instead
 * (logged), and a new worker takes its place: a crash never loses a request.
 */
export class DecodePool implements RequestDecoder {
  /** Requests decoded on a worker thread and on the calling thread (small, or a worker died). */
  readonly stats = { onThreads: 0, onMainThread: 0 };
  readonly #threads: DecodeThread[] = [];
  readonly #minBodyBytes: number;
  readonly #logger: Logger;
  readonly #workerUrl: URL;
  #nextId = 0;
  #closed = false;
  /** When workers were last restarted: a worker that keeps dying is not restarted forever. */
  #restarts: number[] = [];

  constructor(options: DecodePoolOptions) {
    this.#minBodyBytes = options.minBodyBytes ?? 16 * 1024;
    this.#logger = options.logger;
    this.#workerUrl = options.workerUrl ?? new URL('./decode-worker.js', import.meta.url);
    let threads = options.threads;
    if (threads > 0 && !existsSync(fileURLToPath(this.#workerUrl))) {
      // Only when running from the TypeScript sources (tests): there is no compiled worker.
      this.#logger.warn(
        { worker: this.#workerUrl.href },
        'no compiled decode worker here: decoding on the main thread',
      );
      threads = 0;
    }
    for (let i = 0; i < threads; i++) this.#threads.push(this.#spawn());
  }

  get threads(): number {
    return this.#threads.length;
  }

  decode(format: RequestFormat, body: Uint8Array): MetricBatch | Promise<MetricBatch> {
    if (this.#threads.length === 0 || this.#closed || body.length < this.#minBodyBytes) {
      this.stats.onMainThread++;
      return decodeRequest(format, body);
    }
    // The least busy thread: requests differ in size, so round robin would queue behind a
    // big one while another thread idles.
    let thread = this.#threads[0];
    for (const candidate of this.#threads) {
      if (candidate.jobs.size < thread.jobs.size) thread = candidate;
    }
    const id = this.#nextId++;
    // The body stays here too, for a worker that dies; the worker gets a copy.
    const sent = postableBytes(body);
    return new Promise<MetricBatch>((resolve, reject) => {
      thread.jobs.set(id, { format, body, resolve, reject });
      const job: DecodeJob = { id, format, body: sent.bytes };
      thread.worker.postMessage(job, sent.transfer);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const threads = this.#threads.splice(0);
    for (const thread of threads) this.#decodeHere(thread, 'the decode pool closed');
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  #spawn(): DecodeThread {
    const worker = new Worker(this.#workerUrl);
    const thread: DecodeThread = { worker, jobs: new Map(), online: false };
    worker.once('online', () => {
      thread.online = true;
    });
    // Idle decode threads must not keep a process alive that has nothing else to do.
    worker.unref();
    worker.on('message', (reply: DecodeReply) => {
      const job = thread.jobs.get(reply.id);
      if (!job) return;
      thread.jobs.delete(reply.id);
      this.stats.onThreads++;
      if ('state' in reply) job.resolve(MetricBatch.fromState(reply.state));
      else job.reject(rebuildError(reply.error));
    });
    worker.on('error', (error) => this.#replace(thread, error.message));
    worker.on('exit', (code) => {
      if (!this.#closed) this.#replace(thread, `exited with code ${code}`);
    });
    return thread;
  }

  /**
   * A worker died: its jobs are decoded here, and a fresh worker takes its place — unless it
   * never started, or workers died more than `MAX_RESTARTS` times in a minute: then the
   * pool goes on with one thread fewer, down to none (the main thread decodes).
   */
  #replace(thread: DecodeThread, reason: string): void {
    const at = this.#threads.indexOf(thread);
    if (at === -1) return;
    const now = Date.now();
    this.#restarts = this.#restarts.filter((t) => now - t < 60_000);
    const restart = thread.online && this.#restarts.length < MAX_RESTARTS;
    this.#logger.error(
      { reason, jobs: thread.jobs.size, restart, threadsLeft: this.#threads.length - 1 },
      'a decode thread died; decoding its requests on the main thread',
    );
    this.#decodeHere(thread, reason);
    if (restart) {
      this.#restarts.push(now);
      this.#threads[at] = this.#spawn();
    } else this.#threads.splice(at, 1);
    void thread.worker.terminate();
  }

  #decodeHere(thread: DecodeThread, reason: string): void {
    if (thread.jobs.size > 0) {
      this.#logger.debug({ reason, jobs: thread.jobs.size }, 'decoding on the main thread');
    }
    for (const job of thread.jobs.values()) {
      this.stats.onMainThread++;
      try {
        job.resolve(decodeRequest(job.format, job.body));
      } catch (error) {
        job.reject(error as Error);
      }
    }
    thread.jobs.clear();
  }
}

function rebuildError(error: {
  message: string;
  code?: string;
  where?: number | string;
  expected?: string;
}) {
  if (error.where === undefined)
    return new SluiceError(error.code ?? 'SLUICE_ERR_DECODE', error.message);
  const rebuilt = new DecodeError(error.where, error.expected ?? '');
  rebuilt.message = error.message;
  return rebuilt;
}
