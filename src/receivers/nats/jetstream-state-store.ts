import { createHash, randomUUID } from 'node:crypto';
import { headers, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import { compress, decompress } from 'zstd-napi';
import { SluiceError } from '../../model/errors.js';
import type { StateStore, StoredState } from '../../model/storage.js';
import { isNotFound, isWrongLastSequence } from './jetstream-errors.js';

/**
 * Where snapshots are kept by name: a JetStream stream here, a map in unit tests. Each object
 * has a version, and writing it is a compare-and-set on that version, so a member that lost a
 * partition without knowing it yet (paused past its lease) cannot overwrite the state the next
 * holder loaded — the next holder claims every object it loads.
 */
export interface SnapshotObjects {
  /**
   * The object `name` (undefined when there is none), claimed for `writer`: its version from
   * now on, which any `put` by another writer with an older version fails against.
   */
  claim(name: string, writer: string): Promise<ClaimedObject>;
  /**
   * Replaces `name` if it is still at `expected.version` (or at `expected.writer`'s own write
   * since, whose answer was lost); resolves with the new version. Rejects with
   * `SLUICE_ERR_STATE_TAKEN` when another writer claimed or wrote it since.
   */
  put(
    name: string,
    bytes: Uint8Array,
    expected: { version: number; writer: string },
  ): Promise<number>;
}

/** An object as `SnapshotObjects.claim` found it. */
export interface ClaimedObject {
  /** Its bytes; undefined when there is none yet, or it could not be read. */
  bytes: Uint8Array | undefined;
  version: number;
  /**
   * Why it could not be read (a chunk gone, a hash that does not match), after a few tries:
   * the holder starts without it rather than never consuming the partition.
   */
  unreadable?: string;
}

/** Reads of a claimed object before it counts as unreadable. */
const CLAIM_ATTEMPTS = 4;

/** The refusal of a write to state another writer claimed since (see `SnapshotObjects`). */
export function stateTakenError(name: string): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_STATE_TAKEN',
    `the state ${name} was claimed by another member since this one loaded it: the partition was taken over, nothing more is written for it here`,
  );
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

  async claim(name: string, writer: string): Promise<ClaimedObject> {
    const subject = this.#subject(name, 'manifest');
    // Another member may write between the read and the claim: read again then. A chunk
    // gone may be a stream leader catching up: read again, then give up on it.
    for (let attempt = 0; ; attempt++) {
      const last = await this.#lastManifest(subject);
      const manifest: Manifest = { ...(last?.manifest ?? EMPTY_MANIFEST), writer };
      let version: number;
      try {
        version = await this.#publishManifest(subject, manifest, last?.seq ?? 0);
      } catch (err) {
        if (!isWrongLastSequence(err) || attempt >= CLAIM_ATTEMPTS) throw err;
        continue;
      }
      if (manifest.chunks.length === 0) return { bytes: undefined, version };
      try {
        return { bytes: await this.#read(name, manifest), version };
      } catch (err) {
        // Anything else (a timeout, no stream leader yet) is thrown: loaded again later.
        if ((err as { code?: string }).code !== 'SLUICE_ERR_CORRUPT_STATE') throw err;
        if (attempt >= CLAIM_ATTEMPTS)
          return { bytes: undefined, version, unreadable: (err as Error).message };
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  /** The snapshot `manifest` lists: its chunks, checked against its size and hash. */
  async #read(name: string, manifest: Manifest): Promise<Uint8Array> {
    const { jsm } = await this.#open();
    const parts: Uint8Array[] = [];
    for (const seq of manifest.chunks) {
      const chunk = await jsm.streams.getMessage(this.#stream, { seq }).catch((err: Error) => {
        if (!isNotFound(err)) throw err;
        throw new SluiceError(
          'SLUICE_ERR_CORRUPT_STATE',
          `snapshot ${name} in stream ${this.#stream}: chunk ${seq} of ${manifest.chunks.join(', ')} is gone (${err.message})`,
        );
      });
      parts.push(chunk.data);
    }
    const stored = Buffer.concat(parts);
    if (
      stored.length !== manifest.size ||
      createHash('sha256').update(stored).digest('hex') !== manifest.sha256
    ) {
      throw new SluiceError(
        'SLUICE_ERR_CORRUPT_STATE',
        `snapshot ${name} in stream ${this.#stream} does not match its manifest`,
      );
    }
    try {
      return decompress(stored);
    } catch (err) {
      throw new SluiceError(
        'SLUICE_ERR_CORRUPT_STATE',
        `snapshot ${name} in stream ${this.#stream} does not decompress: ${(err as Error).message}`,
      );
    }
  }

  async put(
    name: string,
    state: Uint8Array,
    expected: { version: number; writer: string },
  ): Promise<number> {
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
      writer: expected.writer,
    };
    const subject = this.#subject(name, 'manifest');
    let version: number;
    try {
      version = await this.#publishManifest(subject, manifest, expected.version);
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      // Our own last write, whose answer was lost (a timeout): write on top of it. Anyone
      // else's (a claim, or a write) means the partition is someone else's now.
      const last = await this.#lastManifest(subject);
      if (last?.manifest.writer !== expected.writer) throw stateTakenError(name);
      version = await this.#publishManifest(subject, manifest, last.seq).catch((again) => {
        throw isWrongLastSequence(again) ? stateTakenError(name) : again;
      });
    }
    // The previous snapshot's chunks (and any a crash, or a refused write, left behind).
    await jsm.streams.purge(this.#stream, { filter: chunkSubject, seq: Math.min(...chunks) });
    return version;
  }

  async #lastManifest(subject: string): Promise<{ manifest: Manifest; seq: number } | undefined> {
    const { jsm } = await this.#open();
    const message = await jsm.streams
      .getMessage(this.#stream, { last_by_subj: subject })
      .catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
    return message && { manifest: message.json<Manifest>(), seq: message.seq };
  }

  /**
   * Publishes `manifest` as the only message on `subject` (a rollup) if the subject's last
   * message is still `after` (0: none); resolves with its sequence, the object's new version.
   */
  async #publishManifest(subject: string, manifest: Manifest, after: number): Promise<number> {
    const { js } = await this.#open();
    const rollup = headers();
    rollup.set('Nats-Rollup', 'sub');
    const ack = await js.publish(subject, JSON.stringify(manifest), {
      headers: rollup,
      expect: { lastSubjectSequence: after },
    });
    return ack.seq;
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
  /** Stream sequences of the chunks, in order (none: no snapshot yet, only a claim). */
  chunks: number[];
  /** Bytes stored: the snapshot compressed with zstd. */
  size: number;
  sha256: string;
  /** Who wrote or claimed it last (see `SnapshotObjects`). */
  writer: string;
}

const EMPTY_MANIFEST: Manifest = { chunks: [], size: 0, sha256: '', writer: '' };

/**
 * One processor's state for one partition, in `objects` under `name`, replaced by each
 * snapshot, so the member of the group that takes the partition over loads the last one.
 *
 * It keeps no journal: the partition's messages are the journal. The source acknowledges a
 * message only once a snapshot holds it (see `PartitionProgress`), so JetStream hands out
 * again whatever the last snapshot misses; processors in a partition's chain append nothing,
 * and `append` only numbers what it is given.
 *
 * Loading claims the object (see `SnapshotObjects`): a holder that lost the partition without
 * knowing it yet — paused past its lease — has its next snapshot refused, so it neither emits
 * outputs the new holder's state lacks nor acknowledges messages only its own state holds.
 */
export class JetStreamStateStore implements StateStore {
  readonly #objects: SnapshotObjects;
  readonly #name: string;
  /** This store's name as a writer: each chain's own, even on one member. */
  readonly #writer = randomUUID();
  /** The object's version this store loaded or wrote last. */
  #version = 0;
  #lastSeq = 0;

  constructor(objects: SnapshotObjects, name: string) {
    this.#objects = objects;
    this.#name = name;
  }

  /** Loads the last snapshot and claims the object: the previous holder writes no more. */
  async load(): Promise<StoredState> {
    const { bytes, version, unreadable } = await this.#objects.claim(this.#name, this.#writer);
    this.#version = version;
    return { snapshot: bytes, entries: [], corrupt: unreadable ? 1 : 0, problem: unreadable };
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
    this.#version = await this.#objects.put(this.#name, bytes, {
      version: this.#version,
      writer: this.#writer,
    });
  }

  async close(): Promise<void> {}
}
