import type { KV } from 'nats';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { PartitionLeases } from '../../src/receivers/nats/partition-leases.js';
import { sleep, waitUntil } from '../helpers/faults.js';

const LEASE_MS = 400;
const logger = pino({ level: 'silent' });

/**
 * The part of a JetStream KV bucket the leases use, in memory: revisions, compare-and-set
 * writes, and a TTL after which an entry not written again is gone.
 */
class MemoryBucket {
  readonly #entries = new Map<string, { value: string; revision: number; writtenAt: number }>();
  #revision = 0;

  #live(key: string) {
    const entry = this.#entries.get(key);
    if (entry && Date.now() - entry.writtenAt >= LEASE_MS) this.#entries.delete(key);
    return this.#entries.get(key);
  }

  #write(key: string, value: Uint8Array): number {
    const revision = ++this.#revision;
    this.#entries.set(key, {
      value: new TextDecoder().decode(value),
      revision,
      writtenAt: Date.now(),
    });
    return revision;
  }

  /** Who holds partition `p` now (undefined: nobody). */
  holder(p: number): string | undefined {
    return this.#live(`partitions.${p}`)?.value;
  }

  readonly kv = {
    put: async (key: string, value: Uint8Array) => this.#write(key, value),
    create: async (key: string, value: Uint8Array) => {
      if (this.#live(key)) throw wrongLastSequence();
      return this.#write(key, value);
    },
    update: async (key: string, value: Uint8Array, revision: number) => {
      if (this.#live(key)?.revision !== revision) throw wrongLastSequence();
      return this.#write(key, value);
    },
    delete: async (key: string, options: { previousSeq: number }) => {
      if (this.#live(key)?.revision !== options.previousSeq) throw wrongLastSequence();
      this.#entries.delete(key);
    },
    keys: async (filter: string) => {
      const prefix = filter.replace('*', '');
      const keys = [...this.#entries.keys()].filter((k) => k.startsWith(prefix) && this.#live(k));
      return Object.assign(
        (async function* () {
          yield* keys;
        })(),
        { stop() {} },
      );
    },
  } as unknown as KV;
}

function wrongLastSequence(): Error {
  return Object.assign(new Error('wrong last sequence'), { api_error: { err_code: 10071 } });
}

const running: PartitionLeases[] = [];
afterEach(async () => {
  for (const leases of running.splice(0)) await leases.stop();
});

/** A member whose partitions take `stopMs` to stop, noting every stop and whether it was graceful. */
function member(bucket: MemoryBucket, name: string, stopMs: number) {
  const stops: string[] = [];
  const leases = new PartitionLeases({
    kv: bucket.kv,
    member: name,
    partitions: 4,
    leaseMs: LEASE_MS,
    take: async () => {},
    give: async (p, graceful) => {
      stops.push(`${p} ${graceful ? 'given' : 'lapsed'}`);
      await sleep(stopMs);
    },
    logger,
  });
  running.push(leases);
  return { leases, stops };
}

describe('partition leases', () => {
  it('keeps renewing its other leases while a partition it gave up takes long to stop', async () => {
    const bucket = new MemoryBucket();
    // Stopping a partition takes four leases (a snapshot to a slow cluster).
    const a = member(bucket, 'a', 4 * LEASE_MS);
    await a.leases.start();
    expect(a.leases.held).toEqual([0, 1, 2, 3]);

    const b = member(bucket, 'b', 0);
    await b.leases.start();
    await waitUntil('b to get its share', () => b.leases.held.length === 2, 10_000, 20);
    // a gave two up, gracefully, and lost none: the two it kept were renewed all along, and
    // b took the others only once a had stopped them.
    await sleep(2 * LEASE_MS);
    expect(a.stops).toEqual(['3 given', '2 given']);
    expect(a.leases.held).toEqual([0, 1]);
    expect(b.leases.held).toEqual([2, 3]);
    for (const p of [0, 1]) expect(bucket.holder(p)).toBe('a');
  });

  it('does not let another member take a partition before it has stopped here', async () => {
    const bucket = new MemoryBucket();
    const a = member(bucket, 'a', 3 * LEASE_MS);
    await a.leases.start();
    const b = member(bucket, 'b', 0);
    await b.leases.start();
    const givenAt = Date.now();
    await waitUntil('b to get its share', () => b.leases.held.length === 2, 10_000, 5);
    // Its lease outlived a's stop (renewed meanwhile), then was given up.
    expect(Date.now() - givenAt).toBeGreaterThanOrEqual(3 * LEASE_MS);
    expect(a.stops.every((stop) => stop.endsWith('given'))).toBe(true);
  });
});
