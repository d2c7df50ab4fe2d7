import { type FileHandle, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { encodeFlatJsonLines } from '../../codec/flat/flat-json-lines.js';
import { encodeMetricsRequestJson } from '../../codec/json/encode-request-json.js';
import type { Sender, SendResult } from '../../delivery/sender.js';
import { InvalidArgumentError } from '../../model/errors.js';
import type { MetricBatch } from '../../model/metric-batch.js';

export interface FileSenderOptions {
  path: string;
  /** `flat`: one JSON object per point (default); `otlp_json`: one OTLP/JSON request per line. */
  format?: 'flat' | 'otlp_json';
  /** Rotate when the file would grow past this many bytes (0: never). */
  maxBytes?: number;
  /** Rotated files kept as `path.1` (newest) … `path.N`. */
  maxBackups?: number;
}

/**
 * Appends batches to a file as JSON lines, rotating by size. Each batch is written with one
 * `write` call, so a reader never sees half a batch's lines from one writer.
 */
export class FileSender implements Sender {
  readonly destination: string;
  readonly #path: string;
  readonly #format: 'flat' | 'otlp_json';
  readonly #maxBytes: number;
  readonly #maxBackups: number;
  #file: FileHandle | undefined;
  #size = 0;
  /** Sends run one at a time: appends and rotations must not interleave. */
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: FileSenderOptions) {
    if (!options.path) throw new InvalidArgumentError('file.path', options.path, 'a file path');
    const format = options.format ?? 'flat';
    if (format !== 'flat' && format !== 'otlp_json') {
      throw new InvalidArgumentError('file.format', format, 'flat or otlp_json');
    }
    this.#path = options.path;
    this.destination = `file://${options.path}`;
    this.#format = format;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#maxBackups = options.maxBackups ?? 5;
  }

  send(batch: MetricBatch): Promise<SendResult> {
    // Render now: the engine may reuse the batch once this promise settles.
    const text =
      this.#format === 'flat' ? encodeFlatJsonLines(batch) : `${encodeMetricsRequestJson(batch)}\n`;
    const run = this.#tail.then(() => this.#append(Buffer.from(text)));
    this.#tail = run.catch(() => {});
    return run.then(() => ({ rejectedPoints: 0 }));
  }

  async close(): Promise<void> {
    await this.#tail;
    await this.#file?.close();
    this.#file = undefined;
  }

  async #append(data: Buffer): Promise<void> {
    if (!this.#file) await this.#open();
    if (this.#maxBytes > 0 && this.#size > 0 && this.#size + data.length > this.#maxBytes)
      await this.#rotate();
    await this.#file!.write(data);
    this.#size += data.length;
  }

  async #open(): Promise<void> {
    await mkdir(dirname(this.#path), { recursive: true });
    this.#file = await open(this.#path, 'a');
    this.#size = (await stat(this.#path)).size;
  }

  async #rotate(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
    if (this.#maxBackups === 0) await rm(this.#path, { force: true });
    else {
      await rm(`${this.#path}.${this.#maxBackups}`, { force: true });
      for (let k = this.#maxBackups - 1; k >= 1; k--) {
        await rename(`${this.#path}.${k}`, `${this.#path}.${k + 1}`).catch(ignoreMissing);
      }
      await rename(this.#path, `${this.#path}.1`);
    }
    await this.#open();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
