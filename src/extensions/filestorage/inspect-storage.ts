import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CursorFile } from '../../delivery/persistent/cursor-file.js';
import { liveOwner } from '../../delivery/persistent/directory-lock.js';
import { scanSegment } from '../../delivery/persistent/segment-scan.js';
import { checkDirectory } from './file-storage.js';

/** What one component's queue directory holds, read without changing anything. */
export interface StoredQueue {
  /** The component's directory name (`exporter_otlphttp`). */
  name: string;
  records: number;
  points: number;
  bytes: number;
  /** Bytes at a segment's end that are not whole records (a crash tore them). */
  tornBytes: number;
  /** The pid in its LOCK file when that process is alive. */
  lockedBy?: number;
}

/**
 * `sluice validate` for a `file_storage` directory: throws `StorageError` when it cannot
 * be used, else lists what each queue in it holds (what the next start replays).
 */
export async function inspectStorage(
  directory: string,
  createDirectory: boolean,
): Promise<StoredQueue[]> {
  await checkDirectory(directory, createDirectory);
  const queues: StoredQueue[] = [];
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(directory, entry.name);
    const { settled } = await CursorFile.read(join(dir, 'cursor'));
    const queue: StoredQueue = { name: entry.name, records: 0, points: 0, bytes: 0, tornBytes: 0 };
    let last = 0;
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort()) {
      const scan = await scanSegment(join(dir, name), settled, last);
      if (scan.lastSeq > 0) last = scan.lastSeq;
      queue.records += scan.records;
      queue.points += scan.points;
      queue.bytes += scan.bytes;
      queue.tornBytes += scan.fileSize - scan.validEnd;
    }
    queue.lockedBy = liveOwner(dir);
    queues.push(queue);
  }
  return queues;
}
