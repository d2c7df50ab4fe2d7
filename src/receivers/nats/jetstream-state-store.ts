import type { ObjectStore } from 'nats';
import type { StateStore, StoredState } from '../../model/storage.js';

/**
 * A partition's state in a JetStream object store (`sluice_state_<consumer>`, replicated
 * like the stream): one object per partition and processor, replaced by each snapshot, so the
 * member of the group that takes the partition over loads the last one. The object store
 * chunks large snapshots and checks their digest when read.
 *
 * It keeps no journal: the partition's messages are the journal. The source acknowledges a
 * message only once a snapshot holds it (see `PartitionProgress`), so JetStream hands out
 * again whatever the last snapshot misses. `append` only counts, for the processors that
 * decide when to snapshot by what they appended.
 */
export class JetStreamStateStore implements StateStore {
  readonly #bucket: () => Promise<ObjectStore>;
  readonly #name: string;
  #lastSeq = 0;
  #journalBytes = 0;

  /** `bucket` opens (or creates) the object store; `name` is the object's. */
  constructor(bucket: () => Promise<ObjectStore>, name: string) {
    this.#bucket = bucket;
    this.#name = name;
  }

  async load(): Promise<StoredState> {
    const data = await (await this.#bucket()).getBlob(this.#name);
    return { snapshot: data ?? undefined, entries: [], corrupt: 0 };
  }

  async append(entry: Uint8Array): Promise<number> {
    this.#journalBytes += entry.length;
    return ++this.#lastSeq;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get journalBytes(): number {
    return this.#journalBytes;
  }

  async snapshot(state: Uint8Array | readonly Uint8Array[], through: number): Promise<void> {
    const bytes = state instanceof Uint8Array ? state : Buffer.concat(state);
    await (await this.#bucket()).putBlob({ name: this.#name }, bytes);
    if (through >= this.#lastSeq) this.#journalBytes = 0;
  }

  async close(): Promise<void> {}
}
