import type { PartitionScope } from '../../model/partition.js';
import type { StateStore } from '../../model/storage.js';
import { JetStreamStateStore, type SnapshotObjects } from './jetstream-state-store.js';

/**
 * A partition the `nats` receiver consumes, as the chain opened for it sees it: the stream
 * sequence of the message being handed over, and state stores in the group's state stream
 * (`<consumer>_p<p>.<component>`), so they move with the partition.
 */
export class NatsPartitionScope implements PartitionScope {
  readonly partition: number;
  position = 0;
  waiting = 0;
  revoked = false;
  readonly maxWaiting: number;
  readonly #durable: string;
  readonly #objects: SnapshotObjects;
  readonly #listeners: ((positions: readonly number[]) => void)[] = [];

  constructor(partition: number, durable: string, objects: SnapshotObjects, maxWaiting: number) {
    this.partition = partition;
    this.maxWaiting = maxWaiting;
    this.#durable = durable;
    this.#objects = objects;
  }

  stateStore(componentId: string): StateStore {
    return new JetStreamStateStore(this.#objects, `${this.#durable}.${componentId}`);
  }

  onForgotten(listener: (positions: readonly number[]) => void): void {
    this.#listeners.push(listener);
  }

  /** Whether a component of the chain keeps state here (and waits for its snapshots). */
  get stateful(): boolean {
    return this.#listeners.length > 0;
  }

  /** JetStream confirmed the acknowledgement of these messages. */
  forgotten(positions: readonly number[]): void {
    for (const listener of this.#listeners) listener(positions);
  }
}
