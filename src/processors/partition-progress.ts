import { SluiceError } from '../model/errors.js';
import type { PartitionScope } from '../model/partition.js';
import type { StateStore, StoredState } from '../model/storage.js';

/**
 * A stateful processor's progress through its partition's messages, in a chain opened for
 * one partition (`PartitionScope`). Its state is snapshotted to the partition's store, and the
 * source forgets a message only once a snapshot holds it (the processor's `settled`), so a
 * member that takes the partition over after a crash loads the snapshot and is handed again
 * exactly the messages that may be missing from it.
 *
 * It may also be handed messages the snapshot does hold: acknowledged after the snapshot, but
 * the acknowledgement lost in the crash. So each snapshot lists the messages in the state that
 * the source has not confirmed forgetting, and a message on that list is skipped (`redelivered`):
 * applied once, whatever the order JetStream hands messages out in.
 *
 * Snapshots are numbered, and a second, tiny object says up to which one the outputs made
 * from it were delivered (`delivered`): a processor that snapshots before it emits (so that no
 * emit is lost once the source forgot its messages) knows on restore whether to emit again.
 */
export class PartitionProgress {
  readonly #scope: PartitionScope;
  /** Positions of messages in the state that the source may hand over again. */
  readonly #inState = new Set<number>();
  /** Messages applied so far, and how many of them the last stored snapshot holds. */
  #applied = 0;
  #stored = 0;
  #waiters: { applied: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** The number of the latest snapshot (written, being written, or restored). */
  #number = 0;
  /** The latest snapshot whose outputs were delivered, as the marker said at restore. */
  #deliveredNumber = 0;
  readonly #marker: StateStore;
  readonly #inner: StateStore;
  /** The snapshots being written, one after the other. */
  #writing: Promise<unknown> = Promise.resolve();
  /** Set once a snapshot was refused because the next holder claimed the state. */
  #taken = false;
  /** The partition's store: loads strip the header `save` writes; snapshots are `save`s. */
  readonly store: StateStore;

  constructor(scope: PartitionScope, componentId: string) {
    this.#scope = scope;
    scope.onForgotten((positions) => {
      for (const position of positions) this.#inState.delete(position);
    });
    this.#inner = scope.stateStore(componentId);
    this.store = this.#wrap(this.#inner);
    this.#marker = scope.stateStore(`${componentId}.delivered`);
  }

  /** The number of the snapshot `store.snapshot` was called for last. */
  get snapshotNumber(): number {
    return this.#number;
  }

  /** Whether the restored snapshot's outputs may not have been delivered (emit them again). */
  get restoredUndelivered(): boolean {
    return this.#number > this.#deliveredNumber;
  }

  /**
   * Snapshots `state`, which the processor took just now: with the messages it holds as they
   * are now (so call it in the same turn as taking the state), after the snapshots before it.
   * Resolves with the snapshot's number once stored.
   *
   * With `retry`, a write that fails (the state stream without a leader for a while, a
   * timeout) is tried again, with backoff, until it is stored or the partition is gone;
   * `retry` hears of each failure first. A processor that emits what a snapshot holds needs
   * that: the emit waits for the snapshot, and dropping the snapshot would drop the emit
   * while the messages are kept and applied no second time.
   */
  save(
    state: Uint8Array | readonly Uint8Array[],
    retry?: (err: Error, attempt: number) => void,
  ): Promise<number> {
    if (this.gone) return Promise.reject(revokedError());
    const applied = this.#applied;
    const number = ++this.#number;
    const header = writeHeader(number, [...this.#inState]);
    const parts = [header, ...(state instanceof Uint8Array ? [state] : state)];
    const write = this.#writing
      .then(async () => {
        for (let attempt = 1; ; attempt++) {
          if (this.gone) throw revokedError();
          try {
            return await this.#inner.snapshot(parts, this.#inner.lastSeq);
          } catch (err) {
            // The next holder claimed the state: write nothing more, not even chunks.
            if ((err as { code?: string }).code === 'SLUICE_ERR_STATE_TAKEN') this.#taken = true;
            if (!retry || this.gone) throw err;
            retry(err as Error, attempt);
            await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt)));
          }
        }
      })
      .then(() => {
        this.#snapshotStored(applied);
        return number;
      });
    this.#writing = write.catch(() => {});
    return write;
  }

  /**
   * Whether the partition is another member's now: revoked, or its state claimed by the next
   * holder. Snapshots are refused from then on; there is no point in trying again.
   */
  get gone(): boolean {
    return this.#scope.revoked || this.#taken;
  }

  /** Notes that the outputs made from snapshot `number` were delivered. */
  async delivered(number: number): Promise<void> {
    if (this.gone) throw revokedError();
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(number);
    await this.#marker.snapshot(bytes, 0);
  }

  /** Whether the message handed over now is already in the (restored) state: skip it. */
  get redelivered(): boolean {
    return this.#inState.has(this.#scope.position);
  }

  /** Notes that the message handed over now changed the state (call as it does). */
  applied(): void {
    const position = this.#scope.position;
    if (this.#inState.has(position)) return;
    this.#inState.add(position);
    this.#applied++;
  }

  /** Resolves once a stored snapshot holds every message applied so far. */
  settled(): Promise<void> {
    if (this.#stored >= this.#applied) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.#waiters.push({ applied: this.#applied, resolve, reject }),
    );
  }

  /**
   * Whether the source holds half the messages it hands over at most, waiting for a snapshot:
   * snapshot now rather than at the interval, or the partition stalls.
   */
  get pressed(): boolean {
    return this.#scope.waiting * 2 >= this.#scope.maxWaiting;
  }

  /** Whether messages were applied that no stored snapshot holds yet. */
  get unsaved(): boolean {
    return this.#applied > this.#stored;
  }

  /** The chain closes: whoever still waits for a snapshot will not get one from here. */
  close(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    const err = new SluiceError(
      'SLUICE_ERR_SHUT_DOWN',
      'the partition was closed before a snapshot held these messages',
    );
    for (const waiter of waiters) waiter.reject(err);
  }

  /** The partition's store, with the list of messages in the state written before each snapshot. */
  #wrap(inner: StateStore): StateStore {
    return {
      load: async (): Promise<StoredState> => {
        const stored = await inner.load();
        // Loaded (and so claimed) either way: the previous holder marks nothing more.
        const marker = (await this.#marker.load()).snapshot;
        if (!stored.snapshot) return stored;
        const { number, positions, rest } = readHeader(stored.snapshot);
        this.#number = number;
        for (const position of positions) this.#inState.add(position);
        if (marker?.length === 8) this.#deliveredNumber = Buffer.from(marker).readDoubleLE(0);
        return { ...stored, snapshot: rest };
      },
      append: (entry) => inner.append(entry),
      get lastSeq() {
        return inner.lastSeq;
      },
      get journalBytes() {
        return inner.journalBytes;
      },
      snapshot: async (state) => {
        await this.save(state);
      },
      close: () => inner.close(),
    };
  }

  #snapshotStored(applied: number): void {
    if (applied > this.#stored) this.#stored = applied;
    const waiting = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiting) {
      if (waiter.applied <= this.#stored) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }
}

/**
 * Whether a failed snapshot needs no warning: refused because the partition is another
 * member's already. The refusal that found out (the state claimed, `SLUICE_ERR_STATE_TAKEN`)
 * is said once; the receiver says when it stops consuming the partition.
 */
export function partitionGoneQuietly(progress: PartitionProgress, err: Error): boolean {
  return progress.gone && (err as { code?: string }).code !== 'SLUICE_ERR_STATE_TAKEN';
}

/** The wait before writing a failed snapshot again: 100 ms doubling to 1 s, ± a quarter. */
function retryDelayMs(attempt: number): number {
  return Math.min(1_000, 100 * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
}

function revokedError(): SluiceError {
  return new SluiceError(
    'SLUICE_ERR_SHUT_DOWN',
    "the partition was taken away: its state is the next holder's, nothing more is written",
  );
}

/**
 * The snapshot's number (float64 LE), the count of positions (u32 LE), then each position as
 * a float64 (JetStream sequences fit in 2^53).
 */
function writeHeader(number: number, positions: readonly number[]): Uint8Array {
  const bytes = Buffer.alloc(12 + 8 * positions.length);
  bytes.writeDoubleLE(number, 0);
  bytes.writeUInt32LE(positions.length, 8);
  positions.forEach((position, k) => {
    bytes.writeDoubleLE(position, 12 + 8 * k);
  });
  return bytes;
}

function readHeader(snapshot: Uint8Array): {
  number: number;
  positions: number[];
  rest: Uint8Array;
} {
  const bytes = Buffer.from(snapshot.buffer, snapshot.byteOffset, snapshot.byteLength);
  const number = bytes.readDoubleLE(0);
  const count = bytes.readUInt32LE(8);
  const positions: number[] = [];
  for (let k = 0; k < count; k++) positions.push(bytes.readDoubleLE(12 + 8 * k));
  return { number, positions, rest: snapshot.subarray(12 + 8 * count) };
}
