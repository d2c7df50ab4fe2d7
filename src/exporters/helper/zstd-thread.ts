import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compress } from 'zstd-napi';
import { SluiceError } from '../../model/errors.js';
import { postableBytes } from '../../model/postable-bytes.js';

export interface ZstdJob {
  id: number;
  body: Uint8Array;
  level: number;
}

export type ZstdReply = { id: number; frame: Uint8Array } | { id: number; error: string };

export interface ZstdThreadOptions {
  /**
   * Bodies smaller than this are compressed on the calling thread: a round trip to the
   * worker costs tens of microseconds, about what zstd takes for 32 KiB at level 3.
   */
  minBodyBytes?: number;
  /** The worker's module; the compiled `zstd-worker.js` beside this file by default. */
  workerUrl?: URL;
}

interface Job {
  body: Uint8Array;
  level: number;
  resolve: (frame: Uint8Array) => void;
  reject: (error: Error) => void;
}

/** Worker deaths after which zstd stays on the calling thread (something is wrong with it). */
const MAX_DEATHS = 3;

/**
 * zstd compression on a worker thread. zstd-napi has no asynchronous call, and a request
 * body of a few megabytes takes milliseconds at the default level and up to seconds at
 * level 19 and above: on the calling thread that would stall the application an in-process
 * exporter runs in, and the collector's receivers. (gzip needs none of this: zlib's
 * asynchronous calls run on libuv's thread pool.)
 *
 * One worker, started at the first large body, unreferenced while idle so it never keeps a
 * process alive. Bodies are copied to it (a caller may send the same body again on retry)
 * and frames come back moved. If the worker dies, its jobs are compressed here instead, and
 * the next large body starts a new one: a crash never loses a request.
 */
export class ZstdThread {
  /** Bodies compressed on the worker and on the calling thread (small, or no worker). */
  readonly stats = { onThread: 0, here: 0 };
  readonly #minBodyBytes: number;
  readonly #workerUrl: URL;
  #worker: Worker | undefined;
  readonly #jobs = new Map<number, Job>();
  #nextId = 0;
  #deaths = 0;
  #closed = false;
  /** Whether the worker's module is missing (running from the TypeScript sources: tests). */
  #noWorker = false;

  constructor(options: ZstdThreadOptions = {}) {
    this.#minBodyBytes = options.minBodyBytes ?? 32 * 1024;
    this.#workerUrl = options.workerUrl ?? new URL('./zstd-worker.js', import.meta.url);
  }

  /** `body` as one zstd frame at `level`. */
  compress(body: Uint8Array, level: number): Promise<Uint8Array> {
    const worker = body.length < this.#minBodyBytes ? undefined : this.#running();
    if (!worker) {
      try {
        return Promise.resolve(this.#here(body, level));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const id = this.#nextId++;
    // The caller's body stays here (for a dying worker); the worker gets a copy.
    const sent = postableBytes(body);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#jobs.set(id, { body, level, resolve, reject });
      if (this.#jobs.size === 1) worker.ref();
      const job: ZstdJob = { id, body: sent.bytes, level };
      worker.postMessage(job, sent.transfer);
    });
  }

  /** Stops the worker; jobs in flight are compressed on the calling thread. */
  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#finishHere();
    await worker?.terminate();
  }

  #here(body: Uint8Array, level: number): Uint8Array {
    this.stats.here++;
    return compress(body, { compressionLevel: level });
  }

  /** The worker, started if need be; undefined when compression stays on this thread. */
  #running(): Worker | undefined {
    if (this.#worker || this.#closed || this.#noWorker || this.#deaths >= MAX_DEATHS)
      return this.#worker;
    this.#noWorker = !existsSync(fileURLToPath(this.#workerUrl));
    if (this.#noWorker) return undefined;
    // None of the process's flags: an application's `--require` (an instrumentation's, say)
    // would run again in the worker, and `--input-type` refuses a worker's file outright.
    const worker = new Worker(this.#workerUrl, { execArgv: [] });
    worker.unref();
    worker.on('message', (reply: ZstdReply) => {
      const job = this.#jobs.get(reply.id);
      if (!job) return;
      this.#jobs.delete(reply.id);
      if (this.#jobs.size === 0) worker.unref();
      this.stats.onThread++;
      if ('frame' in reply) job.resolve(reply.frame);
      else job.reject(new SluiceError('SLUICE_ERR_COMPRESS', `zstd: ${reply.error}`));
    });
    const died = () => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#deaths++;
      this.#finishHere();
      void worker.terminate();
    };
    worker.on('error', died);
    worker.on('exit', died);
    this.#worker = worker;
    return worker;
  }

  #finishHere(): void {
    for (const job of this.#jobs.values()) {
      try {
        job.resolve(this.#here(job.body, job.level));
      } catch (error) {
        job.reject(error as Error);
      }
    }
    this.#jobs.clear();
  }
}

/** The process's zstd thread, shared by every exporter that compresses with zstd. */
export const zstdThread = new ZstdThread();
