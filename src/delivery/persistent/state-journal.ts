import type { FileHandle } from 'node:fs/promises';
import { constants, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { OneAtATime } from '../../model/one-at-a-time.js';
import type { FsyncPolicy, StateStore, StoredState } from '../../model/storage.js';
import { DirectoryLock } from './directory-lock.js';
import { StorageError } from './storage-error.js';

/** Per entry: u32 length, u32 CRC-32 (of the sequence number and the bytes), f64 sequence. */
const ENTRY_HEADER = 16;
/** Snapshot: u32 magic, u32 length, f64 last entry it holds, u32 CRC-32 (of those and the bytes), pad. */
const SNAPSHOT_HEADER = 24;
const SNAPSHOT_MAGIC = 0x31535453; // "STS1"

/**
 * A processor's state on disk: the last snapshot, and a journal of the entries appended
 * since. An entry is numbered; a snapshot says which entries it already holds (`through`), so
 * the entries after it stay when it is written while more are being appended. A snapshot is
 * written to a temporary file, synced and renamed (all or nothing); a torn journal tail is
 * cut off at load and counted.
 */
export class StateJournal implements StateStore {
  readonly #directory: string;
  readonly #fsync: FsyncPolicy;
  readonly #fsyncIntervalMs: number;
  #lock: DirectoryLock | undefined;
  #journal: FileHandle | undefined;
  #journalSize = 0;
  #lastSeq = 0;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;
  /** Appends and snapshots run one at a time, in call order. */
  readonly #writes = new OneAtATime();

  constructor(directory: string, fsync: FsyncPolicy, fsyncIntervalMs: number) {
    this.#directory = directory;
    this.#fsync = fsync;
    this.#fsyncIntervalMs = fsyncIntervalMs;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Bytes of journal entries since the last snapshot that dropped them. */
  get journalBytes(): number {
    return this.#journalSize;
  }

  async load(): Promise<StoredState> {
    try {
      await mkdir(this.#directory, { recursive: true });
    } catch (err) {
      throw new StorageError(
        `cannot create the state directory ${this.#directory}: ${(err as Error).message}`,
        err,
      );
    }
    this.#lock = DirectoryLock.acquire(this.#directory);
    const stored: StoredState = { snapshot: undefined, entries: [], corrupt: 0 };
    let through = 0;
    const snapshot = await readFile(this.#path('snapshot')).catch(() => undefined);
    if (snapshot && snapshot.length >= SNAPSHOT_HEADER) {
      const length = snapshot.readUInt32LE(4);
      const body = snapshot.subarray(SNAPSHOT_HEADER, SNAPSHOT_HEADER + length);
      if (
        snapshot.readUInt32LE(0) === SNAPSHOT_MAGIC &&
        body.length === length &&
        snapshot.readUInt32LE(16) === crc32(body, crc32(snapshot.subarray(8, 16)))
      ) {
        through = snapshot.readDoubleLE(8);
        stored.snapshot = body;
      } else stored.corrupt++;
    }
    const journal = await readFile(this.#path('journal')).catch(() => Buffer.alloc(0));
    let at = 0;
    while (at + ENTRY_HEADER <= journal.length) {
      const length = journal.readUInt32LE(at);
      const end = at + ENTRY_HEADER + length;
      if (end > journal.length) break;
      const body = journal.subarray(at + ENTRY_HEADER, end);
      if (journal.readUInt32LE(at + 4) !== crc32(body, crc32(journal.subarray(at + 8, at + 16))))
        break;
      const seq = journal.readDoubleLE(at + 8);
      if (seq > through) stored.entries.push(body);
      this.#lastSeq = Math.max(this.#lastSeq, seq);
      at = end;
    }
    if (at < journal.length) stored.corrupt++;
    this.#lastSeq = Math.max(this.#lastSeq, through);
    // Keep the whole entries; a torn tail is cut off so appends continue cleanly. Opened
    // for positional writes (created if missing), not O_APPEND, which ignores positions.
    this.#journal = await open(this.#path('journal'), constants.O_RDWR | constants.O_CREAT);
    await this.#journal.truncate(at);
    this.#journalSize = at;
    if (this.#fsync === 'interval') {
      this.#timer = setInterval(() => void this.#sync(), this.#fsyncIntervalMs);
      this.#timer.unref();
    }
    return stored;
  }

  append(entry: Uint8Array): Promise<number> {
    const seq = ++this.#lastSeq;
    const header = Buffer.allocUnsafe(ENTRY_HEADER);
    header.writeUInt32LE(entry.length, 0);
    header.writeDoubleLE(seq, 8);
    header.writeUInt32LE(crc32(entry, crc32(header.subarray(8, 16))), 4);
    return this.#writes.run(async () => {
      const journal = this.#open();
      const at = this.#journalSize;
      try {
        const { bytesWritten } = await journal.writev([header, entry], at);
        if (bytesWritten !== ENTRY_HEADER + entry.length) throw new StorageError('short write');
        if (this.#fsync === 'always') await journal.datasync();
        else this.#dirty = true;
      } catch (err) {
        await journal.truncate(at).catch(() => {});
        throw new StorageError(
          `cannot write processor state in ${this.#directory}: ${(err as Error).message}`,
          err,
        );
      }
      this.#journalSize = at + ENTRY_HEADER + entry.length;
      return seq;
    });
  }

  snapshot(state: Uint8Array | readonly Uint8Array[], through: number): Promise<void> {
    const parts = state instanceof Uint8Array ? [state] : state;
    return this.#writes.run(async () => {
      const header = Buffer.alloc(SNAPSHOT_HEADER);
      let length = 0;
      let crc = 0;
      header.writeDoubleLE(through, 8);
      crc = crc32(header.subarray(8, 16));
      for (const part of parts) {
        length += part.length;
        crc = crc32(part, crc);
      }
      header.writeUInt32LE(SNAPSHOT_MAGIC, 0);
      header.writeUInt32LE(length, 4);
      header.writeUInt32LE(crc, 16);
      const temporary = this.#path('snapshot.tmp');
      const file = await open(temporary, 'w');
      try {
        await file.writev([header, ...parts]);
        if (this.#fsync !== 'never') await file.datasync();
      } finally {
        await file.close();
      }
      await rename(temporary, this.#path('snapshot'));
      await this.#dropJournalThrough(through);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writes.idle();
    if (this.#journal) {
      if (this.#fsync !== 'never') await this.#journal.datasync().catch(() => {});
      await this.#journal.close();
      this.#journal = undefined;
    }
    this.#lock?.release();
    this.#lock = undefined;
  }

  /** Keeps only the journal entries after `through` (all of them are in the snapshot). */
  async #dropJournalThrough(through: number): Promise<void> {
    const journal = this.#open();
    if (through >= this.#lastSeq) {
      await journal.truncate(0);
      this.#journalSize = 0;
      return;
    }
    const bytes = await readFile(this.#path('journal'));
    const kept: Buffer[] = [];
    for (let at = 0; at + ENTRY_HEADER <= this.#journalSize; ) {
      const end = at + ENTRY_HEADER + bytes.readUInt32LE(at);
      if (bytes.readDoubleLE(at + 8) > through) kept.push(bytes.subarray(at, end));
      at = end;
    }
    const rest = Buffer.concat(kept);
    const temporary = this.#path('journal.tmp');
    const file = await open(temporary, 'w');
    try {
      await file.write(rest, 0, rest.length, 0);
      if (this.#fsync !== 'never') await file.datasync();
    } finally {
      await file.close();
    }
    await journal.close();
    await rename(temporary, this.#path('journal'));
    this.#journal = await open(this.#path('journal'), 'r+');
    this.#journalSize = rest.length;
  }

  #open(): FileHandle {
    if (!this.#journal) throw new StorageError(`state in ${this.#directory} is not loaded`);
    return this.#journal;
  }

  #path(name: string): string {
    return join(this.#directory, name);
  }

  async #sync(): Promise<void> {
    if (!this.#dirty || !this.#journal) return;
    this.#dirty = false;
    await this.#journal.datasync().catch(() => {
      this.#dirty = true;
    });
  }
}
