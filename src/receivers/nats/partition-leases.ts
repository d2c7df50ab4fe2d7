import type { KV } from 'nats';
import type { Logger } from 'pino';
import { SluiceError } from '../../model/errors.js';
import { within } from '../../model/within.js';
import { isWrongLastSequence } from './jetstream-errors.js';

/** What `PartitionLeases` needs: the bucket, who this member is, and what to do with a partition. */
export interface PartitionLeasesOptions {
  /** A JetStream KV bucket whose `ttl` is `leaseMs`: an entry not written again expires. */
  kv: KV;
  /** This member's name, unique among the group's live members. */
  member: string;
  /** The partitions there are (`0 .. partitions - 1`). */
  partitions: number;
  /** How long a lease lasts unless renewed; renewed every quarter of it. */
  leaseMs: number;
  /** Starts consuming partition `p` (after its lease was taken). */
  take(p: number): Promise<void>;
  /**
   * Stops consuming partition `p` (before its lease is given up): done with what it holds when
   * `graceful`; otherwise the lease was lost or not renewed in time, and another member may
   * be taking the partition over already.
   */
  give(p: number, graceful: boolean): Promise<void>;
  logger: Logger;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
}

/**
 * Shares partitions among the live members of a group through leases in a JetStream KV
 * bucket, so consumers on several machines split a partitioned stream without a protocol of
 * their own:
 *
 * - `members.<name>`: each member writes its key every quarter of the lease; the bucket's TTL
 *   removes the key of a member that stopped (crashed, cut off).
 * - `partitions.<p>`: the member consuming `p`. Taken with `create` (only if no one holds
 *   it), renewed with `update` at the revision it wrote last (fails if anyone else wrote it).
 *   A lease not renewed expires with the TTL: a dead member's partitions are free again
 *   within one lease, and the others take them at their next renewal.
 * - Each member aims at its share: the partitions divided evenly among the live members in
 *   name order (the first ones one more). A member over its share gives partitions up — it
 *   stops consuming them first — and one under it takes free ones; so a member that joins
 *   gets its share within about a lease.
 *
 * A member never consumes a partition another holds: it takes a lease before it consumes,
 * stops before it gives a lease up, and stops on its own once it has not renewed a lease for
 * two thirds of it (a pause or a lost connection) — before the lease can expire for others.
 *
 * Stopping a partition can take seconds (what it handles finished, its state snapshotted to a
 * cluster that may be slow). The rounds do not wait for it: a round that did would renew none
 * of the other leases meanwhile, they would lapse, and the group would hand partitions back
 * and forth for as long as the cluster stayed slow (seen as a takeover of 20 s instead of 6
 * after a NATS node was killed). A partition given up keeps its lease, renewed, until it has
 * stopped, and is not taken again before.
 */
export class PartitionLeases {
  readonly #options: PartitionLeasesOptions;
  readonly #now: () => number;
  /** The member's name as the value of its leases. */
  readonly #memberBytes: Uint8Array;
  /** Held partitions: the revision of their lease entry, and when it was last written. */
  readonly #held = new Map<number, { revision: number; renewedAt: number }>();
  /** Partitions given up and still stopping. */
  readonly #stopping = new Map<number, Stopping>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  /** What the round is doing, for the warning when it fails. */
  #step: RoundStep = 'heartbeat';
  #stopped = false;

  constructor(options: PartitionLeasesOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#memberBytes = new TextEncoder().encode(options.member);
  }

  /** The partitions this member consumes now, in order. */
  get held(): number[] {
    return [...this.#held.keys()].sort((a, b) => a - b);
  }

  /** Joins the group: a first round now, then one every quarter of the lease. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.tick();
    this.#timer = setInterval(() => void this.tick(), this.#options.leaseMs / 4);
    this.#timer.unref();
  }

  /**
   * Leaves the group: stops consuming every partition and, when `release`, gives the leases
   * and the membership up at once (a member that cannot reach the server lets them expire).
   */
  async stop(release = true): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    // A round's requests time out on their own; this bounds anything else that hangs.
    await within(this.#ticking, this.#options.leaseMs);
    const { kv, member } = this.#options;
    for (const [p, lease] of [...this.#held]) this.#give(p, lease.revision, release);
    await Promise.all([...this.#stopping.values()].map((stop) => stop.done));
    if (release) await kv.delete(`members.${member}`).catch(() => {});
  }

  /** One round: heartbeat, renew, then give or take partitions toward this member's share. */
  tick(): Promise<void> {
    // Rounds never overlap: a slow server must not have two rounds take the same partition.
    this.#ticking = this.#ticking
      .then(() => this.#round())
      .catch((err: Error) => {
        this.#options.logger.warn(
          { error: err.message, step: this.#step },
          'nats: partition lease round failed',
        );
      });
    return this.#ticking;
  }

  async #round(): Promise<void> {
    if (this.#stopped) return;
    const { kv, member, partitions } = this.#options;
    await this.#fence();
    this.#step = 'heartbeat';
    await kv.put(`members.${member}`, new TextEncoder().encode(String(this.#now())));
    this.#step = 'renew';
    await this.#renew();
    this.#step = 'members';
    const members = await this.#members();
    const share = shareOf(members, member, partitions);
    for (const p of this.held.reverse()) {
      if (this.#held.size <= share) break;
      this.#give(p, this.#held.get(p)!.revision, true);
    }
    if (this.#held.size >= share) return;
    // Start at an offset of our own: members joining together try different partitions.
    const offset = members.sort().indexOf(member);
    this.#step = 'take';
    for (let k = 0; k < partitions && this.#held.size < share && !this.#stopped; k++) {
      const p = (offset * Math.ceil(partitions / members.length) + k) % partitions;
      if (!this.#held.has(p) && !this.#stopping.has(p)) await this.#tryTake(p);
    }
  }

  /**
   * The live members' names (this one's included). The listing is a subscription: one that
   * has not ended within a quarter lease (a server that does not answer) fails the round.
   */
  async #members(): Promise<string[]> {
    const { kv, member, leaseMs } = this.#options;
    const keys = await kv.keys('members.*');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      keys.stop();
    }, leaseMs / 4);
    const members: string[] = [];
    try {
      for await (const key of keys) members.push(key.slice('members.'.length));
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) throw new SluiceError('SLUICE_ERR_RETRYABLE', 'listing the members timed out');
    if (!members.includes(member)) members.push(member);
    return members;
  }

  /**
   * Renews every held lease, and those of partitions still stopping; a lease someone else
   * wrote (or that expired) is lost.
   */
  async #renew(): Promise<void> {
    const { kv } = this.#options;
    for (const [p, lease] of [...this.#held]) {
      try {
        const revision = await kv.update(`partitions.${p}`, this.#memberBytes, lease.revision);
        this.#held.set(p, { revision, renewedAt: this.#now() });
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        this.#options.logger.warn({ partition: p }, 'nats: lost the lease of a partition');
        this.#give(p, lease.revision, false);
      }
    }
    for (const [p, stop] of [...this.#stopping]) {
      if (stop.revision === undefined) continue;
      try {
        stop.revision = await kv.update(`partitions.${p}`, this.#memberBytes, stop.revision);
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err;
        stop.revision = undefined; // someone else's already: nothing to renew or give up
      }
    }
  }

  /** Stops consuming the partitions whose lease was not renewed for two thirds of it. */
  async #fence(): Promise<void> {
    const deadline = this.#now() - (2 * this.#options.leaseMs) / 3;
    for (const [p, lease] of [...this.#held]) {
      if (lease.renewedAt < deadline) {
        this.#options.logger.warn(
          { partition: p, sinceRenewalMs: this.#now() - lease.renewedAt },
          'nats: lease of a partition not renewed in time; stopped consuming it',
        );
        this.#give(p, lease.revision, false);
      }
    }
  }

  async #tryTake(p: number): Promise<void> {
    const { kv } = this.#options;
    let revision: number;
    try {
      revision = await kv.create(`partitions.${p}`, this.#memberBytes);
    } catch (err) {
      if (isWrongLastSequence(err)) return; // someone holds it
      throw err;
    }
    this.#held.set(p, { revision, renewedAt: this.#now() });
    try {
      await this.#options.take(p);
    } catch (err) {
      this.#give(p, revision, true);
      throw err;
    }
    this.#options.logger.info({ partition: p, held: this.held }, 'nats: took a partition');
  }

  /**
   * Stops consuming `p` in the background (the rounds go on meanwhile), then, when `release`,
   * deletes its lease if it is still ours: renewed until then, so nobody takes the partition
   * before it has stopped here.
   */
  #give(p: number, revision: number, release: boolean): void {
    this.#held.delete(p);
    const stopping: Stopping = { revision: release ? revision : undefined, done: undefined };
    this.#stopping.set(p, stopping);
    stopping.done = this.#stop(p, stopping, release).finally(() => this.#stopping.delete(p));
  }

  async #stop(p: number, stopping: Stopping, release: boolean): Promise<void> {
    await this.#options.give(p, release).catch((err: Error) => {
      this.#options.logger.warn(
        { partition: p, error: err.message },
        'nats: stopping a partition failed; giving its lease up anyway',
      );
    });
    // Kept and renewed when released (see `#renew`); undefined once someone else's. The
    // delete fails if it expired meanwhile: nothing to give up then.
    if (stopping.revision !== undefined) {
      await this.#options.kv
        .delete(`partitions.${p}`, { previousSeq: stopping.revision })
        .catch(() => {});
    }
    this.#options.logger.info({ partition: p, held: this.held }, 'nats: gave a partition up');
  }
}

/** A partition given up and still stopping. */
interface Stopping {
  /** Its lease's revision while still this member's (renewed until the stop is done). */
  revision: number | undefined;
  done: Promise<void> | undefined;
}

/** The request of a lease round under way (named in the warning when the round fails). */
type RoundStep = 'heartbeat' | 'renew' | 'members' | 'take';

/**
 * How many of `partitions` member `member` should hold among `members`: an even split in
 * name order, the first `partitions mod members` one more.
 */
export function shareOf(members: readonly string[], member: string, partitions: number): number {
  const rank = [...members].sort().indexOf(member);
  const base = Math.floor(partitions / members.length);
  return base + (rank < partitions % members.length ? 1 : 0);
}
