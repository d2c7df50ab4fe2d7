import { readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { UnusableFileError } from '../model/errors.js';

/**
 * A file read at start and read again when it changes (size, mtime or inode), checked every
 * `intervalMs` — polling, not `fs.watch`, because tools that rotate secrets and certificates
 * replace files by renaming, which a watch on the old inode never sees. A change that cannot
 * be read or parsed keeps the last good value and is reported to `onError`, so a half-written
 * file never takes a working listener down.
 */
export class WatchedFile<T> {
  readonly path: string;
  readonly #parse: (bytes: Buffer) => T;
  readonly #onChange: (value: T) => void;
  readonly #onError: (error: Error) => void;
  #value: T;
  #signature: string;
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  /** Reads and parses the file now: a missing or invalid file throws, naming the path. */
  constructor(
    path: string,
    options: {
      parse: (bytes: Buffer) => T;
      intervalMs: number;
      onChange?: (value: T) => void;
      onError?: (error: Error) => void;
    },
  ) {
    this.path = path;
    this.#parse = options.parse;
    this.#onChange = options.onChange ?? (() => {});
    this.#onError = options.onError ?? (() => {});
    try {
      this.#signature = signature(statSync(path));
      this.#value = options.parse(readFileSync(path));
    } catch (err) {
      throw new UnusableFileError(`${path}: ${problem(err)}`);
    }
    if (options.intervalMs > 0) {
      this.#timer = setInterval(() => void this.#check(), options.intervalMs);
      this.#timer.unref();
    }
  }

  get value(): T {
    return this.#value;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const now = await stat(this.path).then(signature, () => 'missing');
      if (now === this.#signature) return;
      // Each change is reported once, whether it parses or not.
      this.#signature = now;
      const value = this.#parse(readFileSync(this.path));
      this.#value = value;
      this.#onChange(value);
    } catch (err) {
      this.#onError(new UnusableFileError(`${this.path}: ${problem(err)}`));
    } finally {
      this.#checking = false;
    }
  }
}

/** Why a file could not be used: the system's code when it could not be read. */
function problem(err: unknown): string {
  const { code, syscall } = err as NodeJS.ErrnoException;
  return syscall ? `cannot be read (${code})` : (err as Error).message;
}

function signature(stats: { size: number; mtimeMs: number; ino: number }): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}
