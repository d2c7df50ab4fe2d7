import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from './storage-error.js';

/** Directories this process holds, so two queues in one process cannot share one either. */
const held = new Set<string>();

/**
 * An exclusive claim on a queue directory: a `LOCK` file holding the owner's pid. Two
 * processes appending to one segment log would interleave records, so the second is
 * refused with the first one's pid; a lock left by a process that died (`kill -9`) is
 * taken over, which is what makes a restart after a crash work without a manual step.
 */
export class DirectoryLock {
  readonly #path: string;

  private constructor(path: string) {
    this.#path = path;
  }

  static acquire(directory: string): DirectoryLock {
    const path = join(directory, 'LOCK');
    if (held.has(path)) {
      throw new StorageError(`${directory} is already used by another queue in this process`);
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        held.add(path);
        return new DirectoryLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new StorageError(`cannot lock ${directory}: ${(err as Error).message}`, err);
        }
        const owner = liveOwner(directory);
        if (owner !== undefined) {
          throw new StorageError(
            `${directory} is in use by process ${owner}: two collectors cannot share a queue directory`,
          );
        }
        rmSync(path, { force: true });
      }
    }
    throw new StorageError(`cannot lock ${directory}: another process keeps taking the lock`);
  }

  release(): void {
    if (!held.delete(this.#path)) return;
    rmSync(this.#path, { force: true });
  }
}

/** The pid in `directory`'s LOCK file when that is another process still alive. */
export function liveOwner(directory: string): number | undefined {
  let owner: number;
  try {
    owner = Number.parseInt(readFileSync(join(directory, 'LOCK'), 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(owner) && owner !== process.pid && isAlive(owner) ? owner : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
