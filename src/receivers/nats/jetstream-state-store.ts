import { createHash } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { compress, decompress } from 'zstd-napi';
import { SluiceError } from '../../model/errors.js';
import type { StateStore, StoredState } from '../../model/storage.js';

/** Where snapshots are kept by name: a JetStream stream here, a map in unit tests. */
export interface SnapshotObjects {
  get(name: string): Promise<Uint8Array | undefined>;
  put(name: string, bytes: Uint8Array): Promise<void>;
}

/** Chunks stay well under nats-server's default max_payload (1 MiB). */
const CHUNK_BYTES = 512 * 1024;

/**
 * A group's partition state in a JetStream stream of its own (`SLUICE_STATE_<consumer>`,
 * replicated like the lease bucket): each snapshot is compressed (zstd at its fastest level:
 * state columns are mostly small numbers and repeated attribute bytes, and every byte saved is
 * one the client copies and nats-server stores and replicates), published in chunks, then a
 * manifest that lists them (with their SHA-256) replaces the previous manifest (a rollup),
 * then the previous chunks are purged. A crash half-way leaves the previous snapshot whole.
 *
 * Not JetStream's object store: it hashes every byte with a SHA-256 written in JavaScript,
 * which took a quarter of an aggregator's CPU in bench/scale; here the hash is node:crypto's.
 */
export class JetStreamSnapshots implements SnapshotObjects {
  readonly connection: NatsConnection;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #replicas: number;
  #ready: Promise<{ js: JetStreamClient; jsm: JetStreamManager }> | undefined;

  constructor(nc: NatsConnection, group: string, replicas: number) {
    this.connection = nc;
    this.#stream = `SLUICE_STATE_${group}`;
    this.#prefix = `sluice_state.${group}`;
    this.#replicas = replicas;
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const { jsm } = await this.#open();
    const manifest = await jsm.streams
      .getMessage(this.#stream, { last_by_subj: this.#subject(name, 'manifest') })
      .catch((err: { code?: string }) => {
        if (String(err.code) === '404') return undefined;
        throw err;
      });
    if (!manifest) return undefined;
    const { chunks, size, sha256 } = manifest.json<Manifest>();
    const parts: Uint8Array[] = [];
    for (const seq of chunks)
      parts.push((await jsm.streams.getMessage(this.#stream, { seq })).data);
    const stored = Buffer.concat(parts);
    if (stored.length !== size || createHash('sha256').update(stored).digest('hex') !== sha256) {
      throw new SluiceError(
        'SLUICE_ERR_CORRUPT_STATE',
        `snapshot ${name} in stream ${this.#stream} does not match its manifest`,
      );
    }
    return decompress(stored);
  }

  async put(name: string, state: Uint8Array): Promise<void> {
    const { js, jsm } = await this.#open();
    const bytes = compress(Buffer.from(state.buffer, state.byteOffset, state.byteLength), {
      compressionLevel: 1,
    });
    const chunkSubject = this.#subject(name, 'chunk');
    // One chunk at a time: published together, they pile up in the client's outbound buffer,
    // which grows by copying.
    const chunks: number[] = [];
    for (let at = 0; at < bytes.length || chunks.length === 0; at += CHUNK_BYTES) {
      chunks.push((await js.publish(chunkSubject, bytes.subarray(at, at + CHUNK_BYTES))).seq);
    }
    const manifest: Manifest = {
      chunks,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
    const rollup = headers();
    rollup.set('Nats-Rollup', 'sub');
    await js.publish(this.#subject(name, 'manifest'), JSON.stringify(manifest), {
      headers: rollup,
    });
    // The previous snapshot's chunks (and any a crash left behind).
    await jsm.streams.purge(this.#stream, { filter: chunkSubject, seq: Math.min(...chunks) });
  }

  /** Names are component ids and such: hex-encoded into one subject token. */
  #subject(name: string, part: 'chunk' | 'manifest'): string {
    return `${this.#prefix}.${Buffer.from(name).toString('hex')}.${part}`;
  }

  #open(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    this.#ready ??= (async () => {
      const jsm = await this.connection.jetstreamManager();
      const config = {
        name: this.#stream,
        subjects: [`${this.#prefix}.>`],
        num_replicas: this.#replicas,
        allow_rollup_hdrs: true,
      };
      await jsm.streams.info(this.#stream).catch(() => jsm.streams.add(config));
      return { js: this.connection.jetstream(), jsm };
    })().catch((err) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }
}

interface Manifest {
  /** Stream sequences of the chunks, in order. */
  chunks: number[];
  /** Bytes stored: the snapshot compressed with zstd. */
  size: number;
  sha256: string;
}

/**
 * One processor's state for one partition, in `objects` under `name`, replaced by each
 * snapshot, so the member of the group that takes the partition over loads the last one.
 *
 * It keeps no journal: the partition's messages are the journal. The source acknowledges a
 * message only once a snapshot holds it (see `PartitionProgress`), so JetStream hands out
 * again whatever the last snapshot misses; processors in a partition's chain append nothing,
 * and `append` only numbers what it is given.
 */
export class JetStreamStateStore implements StateStore {
  readonly #objects: SnapshotObjects;
  readonly #name: string;
  #lastSeq = 0;

  constructor(objects: SnapshotObjects, name: string) {
    this.#objects = objects;
    this.#name = name;
  }

  async load(): Promise<StoredState> {
    return { snapshot: await this.#objects.get(this.#name), entries: [], corrupt: 0 };
  }

  async append(): Promise<number> {
    return ++this.#lastSeq;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get journalBytes(): number {
    return 0;
  }

  async snapshot(state: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const bytes = state instanceof Uint8Array ? state : Buffer.concat(state);
    await this.#objects.put(this.#name, bytes);
  }

  async close(): Promise<void> {}
}
