import type { Consumer } from './consumer.js';
import type { StateStore } from './storage.js';

/**
 * One partition of a partitioned source (the `nats` receiver's `partitions`), as the
 * processors of the chain that consumes it see it. A stateful processor in such a chain keeps
 * state for this partition alone, in a store that moves with the partition: the member of a
 * group that takes the partition over loads it and continues.
 *
 * The source hands messages over one at a time, each with a position that identifies it (a
 * JetStream stream sequence); a message stays in the source until the chain is `settled`
 * after it, and may be handed over again until then — after a crash, to another member.
 */
export interface PartitionScope {
  readonly partition: number;
  /** The position of the message being handed to the chain now. */
  readonly position: number;
  /**
   * Messages accepted and waiting for the chain to settle, and how many the source hands over
   * at most before it waits for them (JetStream's `max_ack_pending`): a chain that settles
   * only at its interval should settle sooner as they near it, or the partition stalls.
   */
  readonly waiting: number;
  readonly maxWaiting: number;
  /**
   * Set once the partition was taken away without a goodbye (its lease not renewed in time):
   * the next holder may be loading the state already, so nothing more is written for it.
   */
  readonly revoked: boolean;
  /** The store of component `componentId`'s state for this partition. */
  stateStore(componentId: string): StateStore;
  /**
   * Calls `listener` with the positions of messages the source has forgotten for good
   * (acknowledged, and the acknowledgement confirmed): they are never handed over again.
   */
  onForgotten(listener: (positions: readonly number[]) => void): void;
}

/** A chain of components opened for one partition (see `Consumer.openPartition`). */
export interface PartitionChain {
  readonly consumer: Consumer;
  /** Flushes and snapshots the chain's state, then stops it. */
  close(options: { deadlineMs: number }): Promise<void>;
}
