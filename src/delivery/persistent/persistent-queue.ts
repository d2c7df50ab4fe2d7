import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { decodeMetricsRequest } from '../../codec/protobuf/decode-request.js';
import { encodeMetricsRequest } from '../../codec/protobuf/encode-request.js';
import { concatRequests, type EncodedRequest } from '../../codec/protobuf/encoded-request.js';
import { InvalidArgumentError } from '../../model/errors.js';
import { MetricBatch } from '../../model/metric-batch.js';
import { OneAtATime } from '../../model/one-at-a-time.js';
import type { FsyncPolicy, StorageWhenFull } from '../../model/storage.js';
import { splitToLimits } from '../batch-cutter.js';
import { QueueFullError } from '../errors.js';
import { FlushRequests } from '../flush-requests.js';
import { seriesKeysOfBatch } from '../in-flight-series.js';
import {
  type OfferResult,
  type Payload,
  type Queue,
  type QueueOptions,
  Ticket,
  type Work,
} from '../memory-queue.js';
import { WakeList } from '../wake-list.js';
import { CursorFile } from './cursor-file.js';
import { DirectoryLock } from './directory-lock.js';
import {
  checksum,
  plausibleHeader,
  RECORD_HEADER_BYTES,
  readRecordHeader,
  SEGMENT_MAGIC,
  writeRecordHeader,
} from './record-format.js';
import { scanSegment } from './segment-scan.js';
import { StorageError } from './storage-error.js';

export interface PersistentQueueOptions {
  /** This queue's own directory (created when missing). */
  directory: string;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  /** Most bytes of undelivered records (the files may hold one segment more). */
  maxSizeBytes: number;
  whenFull: StorageWhenFull;
  /** A new segment file starts once the current one holds this much. */
  segmentBytes?: number;
  /** Requests are cut to the send limits before they are stored (never on the way out). */
  maxRequestPoints: number;
  maxRequestBytes: number;
  /** Hand out `MetricBatch`es (for senders that take no encoded requests). */
  decode: boolean;
  /** Records kept in memory as well as on disk, so a consumer that keeps up never reads. */
  cacheBytes?: number;
  logger: Logger;
  /** Gets every payload the queue will not touch again (for reuse). */
  release?: (payload: Payload) => void;
}

/** What a persistent queue holds and did, for `/metrics` and `validate`. */
export interface StorageStats {
  readonly directory: string;
  /** Requests stored and not yet delivered (in flight included). */
  readonly records: number;
  readonly bytes: number;
  /** Bytes of the segment files (settled records leave with their whole segment). */
  readonly diskBytes: number;
  /** When the oldest undelivered request was accepted (ms), or undefined. */
  readonly oldestAt: number | undefined;
  /** Found on disk at start and replayed. */
  readonly replayedRecords: number;
  readonly replayedPoints: number;
  /** Records that failed their checksum or were cut off, skipped. */
  readonly corruptRecords: number;
  /** Writes that failed (disk full, I/O error): their offers were refused. */
  readonly writeErrors: number;
  /** Bytes written to segments since start. */
  readonly writtenBytes: number;
}

interface Segment {
  index: number;
  path: string;
  /** Bytes of whole records (the file may be longer after a failed write). */
  size: number;
  lastSeq: number;
  /** Undelivered records in it not handed out yet. */
  unread: Tally;
}

interface Tally {
  records: number;
  points: number;
  bytes: number;
}

/** A record read back (or kept in memory): the request and where it ends on disk. */
interface StoredRecord {
  seq: number;
  enqueuedAt: number;
  points: number;
  /** Its size on disk, header included. */
  bytes: number;
  keys: Int32Array | undefined;
  request: Uint8Array;
  segment: Segment;
  end: number;
  /** The payload offered, while it is kept in memory: handed out as it is. */
  original?: Payload;
  ticket?: Ticket;
}

interface PendingWrite {
  records: Omit<StoredRecord, 'seq' | 'segment' | 'end'>[];
  /** Set when written: numbered by its first record. */
  ticket?: Ticket;
  resolve: () => void;
  reject: (err: Error) => void;
}

const SEGMENT_SUFFIX = '.seg';
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
const CURSOR_DELAY_MS = 100;
const READ_AHEAD = 1024 * 1024;

/**
 * The persistent (write-ahead) queue: an append-only log of encoded requests in segment
 * files, each record checksummed, in front of one exporter. `offer` resolves once the
 * request is written (and synced, per `fsync`); consumers take records in order and a record
 * leaves the disk only when its delivery succeeded or it went to dead letters — at least
 * once. On start it replays what is stored; a torn or corrupt record is skipped, counted
 * and logged.
 */
export class PersistentQueue implements Queue {
  readonly options: QueueOptions;
  readonly durable = true;
  readonly #config: Required<Omit<PersistentQueueOptions, 'release'>>;
  readonly #release: (payload: Payload) => void;
  readonly #log: Logger;
  #lock: DirectoryLock | undefined;
  #cursor: CursorFile | undefined;
  #ready: Promise<void> | undefined;

  #segments: Segment[] = [];
  #write: { segment: Segment; handle: import('node:fs/promises').FileHandle } | undefined;
  #nextSeq = 1;
  #nextSegment = 1;
  #dirty = false;
  #rotateNext = false;
  #pending: PendingWrite[] = [];
  #writing: Promise<void> | undefined;
  #reservedBytes = 0;

  /** Undelivered records not handed out, over all segments. */
  #unread: Tally = { records: 0, points: 0, bytes: 0 };
  /** Handed out, not settled, in sequence order (a Map keeps insertion order). */
  #inFlight = new Map<number, { points: number; bytes: number; enqueuedAt: number }>();
  /** Highest sequence number the reader went past (handed out, dropped or skipped). */
  #readThrough = 0;
  #readSegment: Segment | undefined;
  #readOffset = 0;
  #readHandle: { index: number; handle: import('node:fs/promises').FileHandle } | undefined;
  #diskNextAt: number | undefined;
  #chunk: { index: number; start: number; bytes: Buffer } | undefined;
  #peeked: StoredRecord | undefined;
  #cache: StoredRecord[] = [];
  #cacheHead = 0;
  #cacheBytes = 0;
  #cacheAttached = true;
  /** Reader work (take and drop_oldest share the reader) runs one at a time. */
  readonly #reader = new OneAtATime();

  #closed = false;
  #dataQueued = new WakeList();
  readonly #flushes = new FlushRequests(this.#dataQueued);
  #syncTimer: NodeJS.Timeout | undefined;
  #cursorTimer: NodeJS.Timeout | undefined;
  #stats = {
    replayedRecords: 0,
    replayedPoints: 0,
    corruptRecords: 0,
    writeErrors: 0,
    writtenBytes: 0,
  };

  constructor(options: PersistentQueueOptions) {
    if (!(options.maxSizeBytes >= 1024)) {
      throw new InvalidArgumentError('maxSizeBytes', options.maxSizeBytes, 'at least 1024 bytes');
    }
    this.#config = {
      segmentBytes: clamp(Math.floor(options.maxSizeBytes / 16), 1 << 20, 64 << 20),
      cacheBytes: DEFAULT_CACHE_BYTES,
      ...options,
    };
    this.#release = options.release ?? (() => {});
    this.#log = options.logger;
    this.options = {
      maxPoints: Number.MAX_SAFE_INTEGER,
      maxBytes: options.maxSizeBytes,
      whenFull: options.whenFull === 'drop_newest' ? 'drop_newest' : 'reject',
      blockTimeoutMs: 0,
    };
  }

  get points(): number {
    let points = this.#unread.points;
    for (const record of this.#inFlight.values()) points += record.points;
    return points;
  }
  get bytes(): number {
    return this.#unread.bytes + this.#inFlightBytes();
  }
  get length(): number {
    return this.#unread.records + this.#inFlight.size;
  }

  get storage(): StorageStats {
    const first = this.#inFlight.values().next();
    return {
      directory: this.#config.directory,
      records: this.length,
      bytes: this.bytes,
      diskBytes: this.#segments.reduce((sum, s) => sum + s.size, 0),
      oldestAt: first.done ? this.#nextUnreadAt() : first.value.enqueuedAt,
      ...this.#stats,
    };
  }

  /** Locks the directory and recovers what it holds; idempotent. Rejects with `StorageError`. */
  open(): Promise<void> {
    this.#ready ??= this.#recover();
    return this.#ready;
  }

  async offer(
    payload: Payload,
    signal?: AbortSignal,
  ): Promise<{ result: OfferResult; ticket?: Ticket; bytes: number; droppedOldest?: number }> {
    await this.open();
    const records = this.#toRecords(payload);
    const bytes = records.reduce((sum, r) => sum + r.bytes, 0);
    const { maxSizeBytes, whenFull } = this.#config;
    if (bytes > maxSizeBytes) {
      throw new QueueFullError(
        `a request of ${bytes} bytes exceeds the whole persistent queue (max_size_bytes ${maxSizeBytes})`,
      );
    }
    let droppedOldest = 0;
    if (this.#overBy(bytes) > 0) {
      if (whenFull === 'drop_newest') return { result: 'dropped', bytes };
      if (whenFull === 'drop_oldest') droppedOldest = await this.#dropOldest(bytes, signal);
      if (this.#overBy(bytes) > 0) {
        throw new QueueFullError(
          `persistent queue full: ${this.bytes + this.#reservedBytes} of max_size_bytes ${maxSizeBytes} bytes undelivered in ${this.#config.directory}; refused ${payloadPointsOf(records)} points, retry later`,
        );
      }
    }
    if (this.#closed) throw new QueueFullError('persistent queue closed');
    this.#reservedBytes += bytes;
    const write: PendingWrite = { records, resolve: () => {}, reject: () => {} };
    await new Promise<void>((resolve, reject) => {
      write.resolve = resolve;
      write.reject = reject;
      this.#pending.push(write);
      this.#writing ??= this.#writeLoop();
    });
    return { result: 'accepted', ticket: write.ticket, bytes, droppedOldest };
  }

  async take(
    maxPoints: number,
    maxBytes: number,
    flushIntervalMs: number,
    signal?: AbortSignal,
  ): Promise<Work | undefined> {
    await this.open();
    for (;;) {
      if (signal?.aborted || this.#closed) return undefined;
      if (this.#unread.records === 0) {
        await this.#dataQueued.wait(undefined, signal);
        continue;
      }
      const next = this.#nextUnreadAt();
      const age = next === undefined ? Number.POSITIVE_INFINITY : Date.now() - next;
      if (
        this.#unread.points >= maxPoints ||
        this.#unread.bytes >= maxBytes ||
        age >= flushIntervalMs ||
        this.#flushes.active
      ) {
        const work = await this.#reader.run(() => this.#assemble(maxPoints, maxBytes));
        if (work) return work;
        continue;
      }
      await this.#dataQueued.wait(flushIntervalMs - age, signal);
    }
  }

  beginFlush(): () => void {
    return this.#flushes.begin();
  }

  /** No more offers or new work: what is not delivered stays on disk for the next start. */
  close(): void {
    this.#closed = true;
    this.#dataQueued.wakeAll();
  }

  /** Nothing to hand over at a shutdown deadline: it stays stored. */
  drain(): Work[] {
    return [];
  }

  /** A delivery ended (sent, dead-lettered or dropped): its records may leave the disk. */
  complete(work: Work): void {
    for (const seq of work.stored ?? []) this.#inFlight.delete(seq);
    this.#scheduleCursor();
  }

  /** Writes what is pending, syncs, saves the cursor and lets go of files and the lock. */
  async dispose(): Promise<void> {
    this.close();
    if (!this.#ready) return;
    await this.#ready.catch(() => {});
    await this.#writing;
    clearInterval(this.#syncTimer);
    clearTimeout(this.#cursorTimer);
    await this.#reader.run(async () => {
      await this.#readHandle?.handle.close();
      this.#readHandle = undefined;
    });
    if (this.#write) {
      if (this.#config.fsync !== 'never') await this.#write.handle.datasync().catch(() => {});
      await this.#write.handle.close();
      this.#write = undefined;
    }
    await this.#saveCursor().catch((err) =>
      this.#log.warn({ error: (err as Error).message }, 'persistent queue: cursor not saved'),
    );
    await this.#cursor?.close();
    this.#cursor = undefined;
    this.#lock?.release();
    this.#lock = undefined;
    const left = this.length;
    if (left > 0) {
      this.#log.info(
        { directory: this.#config.directory, records: left, bytes: this.bytes },
        'persistent queue closed: undelivered requests stay stored for the next start',
      );
    }
  }

  // ---- recovery -------------------------------------------------------------------------

  async #recover(): Promise<void> {
    const dir = this.#config.directory;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new StorageError(
        `cannot create the queue directory ${dir}: ${(err as Error).message}`,
        err,
      );
    }
    this.#lock = DirectoryLock.acquire(dir);
    try {
      const opened = await CursorFile.open(join(dir, 'cursor'));
      this.#cursor = opened.cursor;
      const settled = opened.settled;
      if (!opened.valid) {
        this.#log.warn(
          { directory: dir },
          'persistent queue: cursor unreadable, replaying every stored request (duplicates possible)',
        );
      }
      const names = (await readdir(dir)).filter((n) => n.endsWith(SEGMENT_SUFFIX)).sort();
      let lastSeq = 0;
      for (const name of names) {
        const path = join(dir, name);
        const index = Number.parseInt(name, 10);
        const scan = await scanSegment(path, settled, lastSeq);
        this.#nextSegment = Math.max(this.#nextSegment, index + 1);
        if (scan.foreign) {
          await rename(path, `${path}.corrupt`);
          this.#corrupt(1, { file: name, reason: 'not a segment file (bad magic)' });
          continue;
        }
        if (scan.validEnd < scan.fileSize) {
          // A torn tail: the crash cut a record. Keep the whole records before it.
          const handle = await open(path, 'r+');
          await handle.truncate(scan.validEnd);
          await handle.close();
          this.#corrupt(1, {
            file: name,
            offset: scan.validEnd,
            bytesSkipped: scan.fileSize - scan.validEnd,
            reason: 'torn or unreadable record at the end of the segment',
          });
        }
        if (scan.lastSeq === 0 || scan.lastSeq <= settled) {
          await rm(path, { force: true });
          continue;
        }
        lastSeq = scan.lastSeq;
        const unread = { records: scan.records, points: scan.points, bytes: scan.bytes };
        this.#segments.push({ index, path, size: scan.validEnd, lastSeq: scan.lastSeq, unread });
        add(this.#unread, unread);
        this.#diskNextAt ??= scan.oldestAt;
      }
      this.#nextSeq = Math.max(lastSeq, settled) + 1;
      this.#readThrough = settled;
      this.#stats.replayedRecords = this.#unread.records;
      this.#stats.replayedPoints = this.#unread.points;
      if (this.#segments.length > 0) {
        this.#readSegment = this.#segments[0];
        this.#readOffset = SEGMENT_MAGIC.length;
        this.#cacheAttached = false;
      }
      await this.#rotate();
      if (this.#unread.records > 0) {
        this.#log.info(
          {
            directory: dir,
            records: this.#unread.records,
            points: this.#unread.points,
            bytes: this.#unread.bytes,
          },
          'persistent queue: replaying stored requests',
        );
      }
      if (this.#config.fsync === 'interval') {
        this.#syncTimer = setInterval(() => void this.#sync(), this.#config.fsyncIntervalMs);
        this.#syncTimer.unref();
      }
    } catch (err) {
      this.#lock?.release();
      if (err instanceof StorageError) throw err;
      throw new StorageError(
        `cannot open the persistent queue in ${dir}: ${(err as Error).message}`,
        err,
      );
    }
  }

  #corrupt(records: number, details: Record<string, unknown>): void {
    this.#stats.corruptRecords += records;
    this.#log.error(
      { directory: this.#config.directory, ...details },
      'persistent queue: corrupt record skipped',
    );
  }

  // ---- writing --------------------------------------------------------------------------

  #toRecords(payload: Payload): PendingWrite['records'] {
    const enqueuedAt = Date.now();
    const record = (
      request: Uint8Array,
      points: number,
      keys: Int32Array | undefined,
      original?: Payload,
    ) => ({
      enqueuedAt,
      points,
      bytes: RECORD_HEADER_BYTES + (keys?.length ?? 0) * 4 + request.length,
      keys,
      request,
      original,
    });
    if (!(payload instanceof MetricBatch)) {
      return [record(payload.bytes, payload.points, payload.seriesKeys, payload)];
    }
    const { maxRequestPoints, maxRequestBytes, decode } = this.#config;
    const parts = splitToLimits(payload, maxRequestPoints, maxRequestBytes);
    const out = parts.map((part) =>
      record(
        encodeMetricsRequest(part.batch),
        part.count,
        seriesKeysOfBatch(part.batch),
        decode ? part.batch : undefined,
      ),
    );
    if (!(decode && parts.length === 1 && parts[0].batch === payload)) this.#release(payload);
    return out;
  }

  #overBy(bytes: number): number {
    return this.bytes + this.#reservedBytes + bytes - this.#config.maxSizeBytes;
  }

  async #writeLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const group = this.#pending;
      this.#pending = [];
      let size = 0;
      for (const write of group) for (const r of write.records) size += r.bytes;
      try {
        await this.#append(group, size);
        // Counted as stored now (`#append` added them): the reservation may go.
        this.#reservedBytes -= size;
        for (const write of group) write.resolve();
      } catch (err) {
        this.#reservedBytes -= size;
        this.#stats.writeErrors++;
        const error =
          err instanceof StorageError
            ? err
            : new StorageError(
                `cannot write to the persistent queue in ${this.#config.directory}: ${(err as Error).message}`,
                err,
              );
        for (const write of group) write.reject(error);
      }
    }
    this.#writing = undefined;
  }

  async #append(group: PendingWrite[], size: number): Promise<void> {
    let write = this.#write;
    if (
      !write ||
      this.#rotateNext ||
      (write.segment.size > SEGMENT_MAGIC.length &&
        write.segment.size + size > this.#config.segmentBytes)
    ) {
      await this.#rotate();
      write = this.#write!;
    }
    const segment = write.segment;
    const start = segment.size;
    let count = 0;
    for (const pending of group) count += pending.records.length;
    // The group goes out in one writev of the requests as they are (no copy), each behind
    // its header.
    const headers = Buffer.allocUnsafe(RECORD_HEADER_BYTES * count);
    const parts: Uint8Array[] = [];
    let at = 0;
    let seq = this.#nextSeq;
    const placed: StoredRecord[] = [];
    for (const pending of group) {
      pending.ticket = new Ticket(seq);
      pending.ticket.pending = pending.records.length;
      for (const r of pending.records) {
        const keys = r.keys && new Uint8Array(r.keys.buffer, r.keys.byteOffset, r.keys.byteLength);
        const header = headers
          .subarray(placed.length * RECORD_HEADER_BYTES)
          .subarray(0, RECORD_HEADER_BYTES);
        writeRecordHeader(
          header,
          0,
          {
            payloadLength: (keys?.length ?? 0) + r.request.length,
            seq,
            enqueuedAt: r.enqueuedAt,
            points: r.points,
            keyCount: r.keys?.length ?? 0,
          },
          r.keys,
          r.request,
        );
        parts.push(header);
        if (keys) parts.push(keys);
        parts.push(r.request);
        at += r.bytes;
        placed.push({ ...r, seq, segment, end: start + at, ticket: pending.ticket });
        seq++;
      }
    }
    try {
      let written = (await write.handle.writev(parts, start)).bytesWritten;
      // A short write (the disk filled up mid-way) is followed by one that fails with the
      // reason (ENOSPC), which is what the refusal then says.
      while (written < size) {
        const rest = Buffer.concat(parts).subarray(written);
        const { bytesWritten } = await write.handle.write(rest, 0, rest.length, start + written);
        if (bytesWritten === 0) throw new StorageError(`wrote 0 of ${rest.length} bytes`);
        written += bytesWritten;
      }
      if (this.#config.fsync === 'always') await write.handle.datasync();
      else this.#dirty = true;
    } catch (err) {
      // Leave no partial record behind: cut the file back. The next write starts a new
      // segment, so this one can be deleted once delivered — on a full disk, that is what
      // frees the space (a segment being written is never deleted).
      await write.handle.truncate(start).catch(() => {});
      this.#rotateNext = true;
      throw err;
    }
    this.#nextSeq = seq;
    this.#stats.writtenBytes += size;
    segment.size = start + size;
    segment.lastSeq = seq - 1;
    for (const record of placed) {
      add(segment.unread, record);
      add(this.#unread, record);
      if (this.#cacheAttached && this.#cacheBytes + record.bytes <= this.#config.cacheBytes) {
        this.#cache.push(record);
        this.#cacheBytes += record.bytes;
      } else {
        this.#cacheAttached = false;
        if (record.original) this.#release(record.original);
        record.original = undefined;
      }
    }
    this.#dataQueued.wakeAll();
  }

  /** Seals the segment being written and starts the next one. */
  async #rotate(): Promise<void> {
    const old = this.#write;
    this.#write = undefined;
    this.#rotateNext = false;
    if (old) {
      if (this.#config.fsync !== 'never' && this.#dirty)
        await old.handle.datasync().catch(() => {});
      await old.handle.close().catch(() => {});
    }
    const index = this.#nextSegment++;
    const path = join(
      this.#config.directory,
      `${String(index).padStart(16, '0')}${SEGMENT_SUFFIX}`,
    );
    const handle = await open(path, 'w+');
    try {
      await handle.write(SEGMENT_MAGIC, 0, SEGMENT_MAGIC.length, 0);
      if (this.#config.fsync !== 'never') {
        await handle.datasync();
        await syncDirectory(this.#config.directory);
      }
    } catch (err) {
      await handle.close().catch(() => {});
      await rm(path, { force: true });
      throw err;
    }
    const segment: Segment = {
      index,
      path,
      size: SEGMENT_MAGIC.length,
      lastSeq: 0,
      unread: { records: 0, points: 0, bytes: 0 },
    };
    this.#segments.push(segment);
    this.#write = { segment, handle };
    this.#dirty = false;
    if (!this.#readSegment) {
      this.#readSegment = segment;
      this.#readOffset = SEGMENT_MAGIC.length;
    }
  }

  async #sync(): Promise<void> {
    if (!this.#dirty || !this.#write) return;
    this.#dirty = false;
    await this.#write.handle.datasync().catch((err) => {
      this.#dirty = true;
      this.#log.warn({ error: (err as Error).message }, 'persistent queue: fsync failed');
    });
  }

  // ---- reading --------------------------------------------------------------------------

  /**
   * When the next record to hand out was accepted: exact when it is in memory; for one on
   * disk, the time of the last record read from there (it is no older), or undefined.
   */
  #nextUnreadAt(): number | undefined {
    if (this.#peeked) return this.#peeked.enqueuedAt;
    if (this.#cacheHead < this.#cache.length) return this.#cache[this.#cacheHead].enqueuedAt;
    return this.#diskNextAt;
  }

  async #assemble(maxPoints: number, maxBytes: number): Promise<Work | undefined> {
    const taken: StoredRecord[] = [];
    let points = 0;
    let bytes = 0;
    for (;;) {
      const record = this.#peeked ?? (await this.#readNext());
      this.#peeked = undefined;
      if (!record) break;
      if (
        taken.length > 0 &&
        (points + record.points > maxPoints || bytes + record.request.length > maxBytes)
      ) {
        this.#peeked = record;
        break;
      }
      taken.push(record);
      points += record.points;
      bytes += record.request.length;
      this.#handOut(record);
    }
    if (taken.length === 0) {
      if (this.#unread.records > 0) {
        // The counts said more was stored than the reader found: trust the reader.
        this.#log.warn({ unread: this.#unread }, 'persistent queue: stored counts corrected');
        this.#unread = { records: 0, points: 0, bytes: 0 };
      }
      return undefined;
    }
    const tickets = taken.map((r) => r.ticket ?? new Ticket(r.seq));
    const stored = taken.map((r) => r.seq);
    return { batch: this.#payloadOf(taken), points, bytes, tickets, stored };
  }

  #handOut(record: StoredRecord): void {
    sub(this.#unread, record);
    sub(record.segment.unread, record);
    this.#readThrough = record.seq;
    this.#inFlight.set(record.seq, {
      points: record.points,
      bytes: record.bytes,
      enqueuedAt: record.enqueuedAt,
    });
  }

  #payloadOf(records: StoredRecord[]): Payload {
    const decode = this.#config.decode;
    if (records.length === 1) {
      const [record] = records;
      if (record.original && record.original instanceof MetricBatch === decode)
        return record.original;
      const request: EncodedRequest = {
        bytes: record.request,
        points: record.points,
        seriesKeys: record.keys,
      };
      return decode ? decodeMetricsRequest(request.bytes) : request;
    }
    const merged = concatRequests(
      records.map((r) => ({ bytes: r.request, points: r.points, seriesKeys: r.keys })),
    );
    for (const record of records) if (record.original) this.#release(record.original);
    return decode ? decodeMetricsRequest(merged.bytes) : merged;
  }

  /**
   * The next undelivered record: from memory when it is there, else from its segment.
   * Memory only ever holds the records right after the reader's position: it takes new
   * records while the reader has caught up with the disk ("attached"), and stops at the
   * first that does not fit, so the disk holds only what comes after.
   */
  async #readNext(): Promise<StoredRecord | undefined> {
    if (this.#cacheHead < this.#cache.length) {
      const record = this.#cache[this.#cacheHead];
      this.#cache[this.#cacheHead++] = undefined as unknown as StoredRecord;
      this.#cacheBytes -= record.bytes;
      if (this.#cacheHead === this.#cache.length) {
        this.#cache = [];
        this.#cacheHead = 0;
      }
      this.#readSegment = record.segment;
      this.#readOffset = record.end;
      return record;
    }
    for (;;) {
      const segment = this.#readSegment;
      if (!segment) return undefined;
      if (this.#readOffset >= segment.size) {
        if (segment === this.#write?.segment) {
          if (this.#cacheHead === this.#cache.length) this.#cacheAttached = true;
          return undefined;
        }
        const next = this.#segments.find((s) => s.index > segment.index);
        if (!next) return undefined;
        this.#readSegment = next;
        this.#readOffset = SEGMENT_MAGIC.length;
        continue;
      }
      const record = await this.#readRecordAt(segment, this.#readOffset);
      if (record === 'corrupt') continue;
      this.#readOffset = record.end;
      if (record.seq <= this.#readThrough) continue; // settled before the last restart
      this.#diskNextAt = record.enqueuedAt;
      return record;
    }
  }

  /**
   * `length` bytes of `segment` from `at` (fewer at its end), read ahead in chunks of
   * `READ_AHEAD` so a backlog of small records costs one read per chunk, not two per record.
   * The views share the chunk's memory; a chunk is never read past the segment's whole
   * records.
   */
  async #bytesAt(segment: Segment, at: number, length: number): Promise<Buffer> {
    const chunk = this.#chunk;
    if (
      chunk?.index === segment.index &&
      at >= chunk.start &&
      at + length <= chunk.start + chunk.bytes.length
    ) {
      return chunk.bytes.subarray(at - chunk.start, at - chunk.start + length);
    }
    if (this.#readHandle?.index !== segment.index) {
      await this.#readHandle?.handle.close();
      this.#readHandle = { index: segment.index, handle: await open(segment.path, 'r') };
    }
    const size = Math.max(0, Math.min(Math.max(length, READ_AHEAD), segment.size - at));
    const bytes = Buffer.allocUnsafe(size);
    const { bytesRead } = await this.#readHandle.handle.read(bytes, 0, size, at);
    this.#chunk = { index: segment.index, start: at, bytes: bytes.subarray(0, bytesRead) };
    return bytes.subarray(0, Math.min(length, bytesRead));
  }

  async #readRecordAt(segment: Segment, at: number): Promise<StoredRecord | 'corrupt'> {
    const head = await this.#bytesAt(segment, at, RECORD_HEADER_BYTES);
    if (head.length < RECORD_HEADER_BYTES) return this.#skipRest(segment, at, 'cut-off header');
    const header = readRecordHeader(head, 0);
    const end = at + RECORD_HEADER_BYTES + header.payloadLength;
    if (!plausibleHeader(header, 0) || end > segment.size)
      return this.#skipRest(segment, at, 'unreadable header');
    const payload = await this.#bytesAt(segment, at + RECORD_HEADER_BYTES, header.payloadLength);
    const keyBytes = header.keyCount * 4;
    const request = payload.subarray(keyBytes);
    if (
      checksum(head, keyBytes > 0 ? payload.subarray(0, keyBytes) : undefined, request) !==
      header.checksum
    ) {
      const size = end - at;
      // A bad payload under a sound header: skip just this record if the next one follows.
      if (end === segment.size || (await this.#recordFollows(end, header.seq, segment))) {
        const skipped = { records: 1, points: header.points, bytes: size };
        if (header.seq > this.#readThrough) {
          sub(this.#unread, skipped);
          sub(segment.unread, skipped);
        }
        this.#readOffset = end;
        this.#readThrough = Math.max(this.#readThrough, header.seq);
        this.#corrupt(1, {
          file: segment.path,
          offset: at,
          seq: header.seq,
          points: header.points,
          reason: 'checksum mismatch',
        });
        return 'corrupt';
      }
      return this.#skipRest(segment, at, 'checksum mismatch');
    }
    const keys =
      keyBytes > 0
        ? new Int32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + keyBytes))
        : undefined;
    return {
      seq: header.seq,
      enqueuedAt: header.enqueuedAt,
      points: header.points,
      bytes: end - at,
      keys,
      request,
      segment,
      end,
    };
  }

  async #recordFollows(at: number, seq: number, segment: Segment): Promise<boolean> {
    if (at + RECORD_HEADER_BYTES > segment.size) return false;
    const head = await this.#bytesAt(segment, at, RECORD_HEADER_BYTES);
    const next = readRecordHeader(head, 0);
    return (
      next.seq === seq + 1 &&
      plausibleHeader(next, seq) &&
      at + RECORD_HEADER_BYTES + next.payloadLength <= segment.size
    );
  }

  /** Nothing after a broken header can be trusted: the rest of the segment is skipped. */
  #skipRest(segment: Segment, at: number, reason: string): 'corrupt' {
    this.#corrupt(Math.max(1, segment.unread.records), {
      file: segment.path,
      offset: at,
      bytesSkipped: segment.size - at,
      points: segment.unread.points,
      reason,
    });
    sub(this.#unread, segment.unread);
    segment.unread = { records: 0, points: 0, bytes: 0 };
    this.#readOffset = segment.size;
    this.#readThrough = Math.max(this.#readThrough, segment.lastSeq);
    return 'corrupt';
  }

  /** Drops the oldest undelivered records until `bytes` fit; returns the points dropped. */
  #dropOldest(bytes: number, signal?: AbortSignal): Promise<number> {
    return this.#reader.run(async () => {
      let dropped = 0;
      while (this.#overBy(bytes) > 0 && !signal?.aborted) {
        const record = this.#peeked ?? (await this.#readNext());
        this.#peeked = undefined;
        if (!record) break;
        this.#handOut(record);
        this.#inFlight.delete(record.seq);
        if (record.original) this.#release(record.original);
        dropped += record.points;
      }
      this.#scheduleCursor();
      return dropped;
    });
  }

  // ---- settling -------------------------------------------------------------------------

  #inFlightBytes(): number {
    let bytes = 0;
    for (const record of this.#inFlight.values()) bytes += record.bytes;
    return bytes;
  }

  /** Every record up to this one was delivered, dead-lettered or dropped. */
  #settledThrough(): number {
    const first = this.#inFlight.keys().next();
    return first.done ? this.#readThrough : first.value - 1;
  }

  #scheduleCursor(): void {
    if (this.#cursorTimer) return;
    this.#cursorTimer = setTimeout(() => {
      this.#cursorTimer = undefined;
      this.#saveCursor().catch((err) =>
        this.#log.warn({ error: (err as Error).message }, 'persistent queue: cursor not saved'),
      );
    }, CURSOR_DELAY_MS);
    this.#cursorTimer.unref();
  }

  /**
   * Saves the cursor, and deletes the segments whose records are all settled — even when the
   * cursor cannot be written (a full disk): deleting is what frees the space, and a deleted
   * segment is not replayed whatever the cursor says.
   */
  async #saveCursor(): Promise<void> {
    const settled = this.#settledThrough();
    const saved = this.#cursor?.write(settled, false).catch((err: Error) => err);
    const done = this.#segments.filter(
      (s) => s.lastSeq > 0 && s.lastSeq <= settled && s !== this.#write?.segment,
    );
    this.#segments = this.#segments.filter((s) => !done.includes(s));
    for (const segment of done) await rm(segment.path, { force: true });
    const error = await saved;
    if (error) throw error;
  }
}

function add(into: Tally, from: { points: number; bytes: number; records?: number }): void {
  into.records += from.records ?? 1;
  into.points += from.points;
  into.bytes += from.bytes;
}

function sub(from: Tally, what: { points: number; bytes: number; records?: number }): void {
  from.records -= what.records ?? 1;
  from.points -= what.points;
  from.bytes -= what.bytes;
}

function payloadPointsOf(records: { points: number }[]): number {
  return records.reduce((sum, r) => sum + r.points, 0);
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

/** Makes a new file's directory entry durable (a power loss could otherwise lose the file). */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
