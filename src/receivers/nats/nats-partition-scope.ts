import type { ObjectStore } from 'nats';
import type { PartitionScope } from '../../model/partition.js';
import type { StateStore } from '../../model/storage.js';
import { JetStreamStateStore } from './jetstream-state-store.js';

/**
 * A partition the `nats` receiver consumes, as the chain opened for it sees it: the stream
 * sequence of the message being handed over, and state stores in the group's object store
 * (`<consumer>_p<p>.<component>`), so they move with the partition.
 */
export class NatsPartitionScope implements PartitionScope {
  readonly partition: number;
  position = 0;
  readonly #durable: string;
  readonly #bucket: () => Promise<ObjectStore>;
  readonly #listeners: ((positions: readonly number[]) => void)[] = [];

  constructor(partition: number, durable: string, bucket: () => Promise<ObjectStore>) {
    this.partition = partition;
    this.#durable = durable;
    this.#bucket = bucket;
  }

  stateStore(componentId: string): StateStore {
    return new JetStreamStateStore(this.#bucket, `${this.#durable}.${componentId}`);
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
