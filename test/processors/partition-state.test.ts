import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/model/consumer.js';
import type { MetricBatch } from '../../src/model/metric-batch.js';
import type { PartitionScope } from '../../src/model/partition.js';
import { Temporality } from '../../src/model/types.js';
import { AggregateProcessor } from '../../src/processors/aggregate/aggregate-processor.js';
import { aggregateConfig } from '../../src/processors/aggregate/config.js';
import { DeltaToCumulativeProcessor } from '../../src/processors/deltatocumulative/delta-to-cumulative-processor.js';
import {
  JetStreamStateStore,
  type SnapshotObjects,
  stateTakenError,
} from '../../src/receivers/nats/jetstream-state-store.js';
import { monotonicSums } from '../helpers/batches.js';
import { waitUntil } from '../helpers/faults.js';

// `aggregate` in a chain opened for one partition (docs/scaling.md): its state goes to the
// partition's store, and a member that takes the partition over after a crash continues from
// it. The state stream is a map here (the real one is in the nats integration tests); a crash
// is a processor dropped without shutdown, whose store another processor then loads.

const logger = pino({ level: 'silent' });
const running: { shutdown(): Promise<void> }[] = [];

afterEach(async () => {
  for (const processor of running.splice(0)) await processor.shutdown();
});

/** Each shared map's object versions (see `SnapshotObjects`). */
const versionsOf = new WeakMap<Map<string, Uint8Array>, Map<string, number>>();

/** The partition as one member sees it, over objects the members share. */
class Scope implements PartitionScope {
  readonly partition = 0;
  position = 0;
  waiting = 0;
  readonly maxWaiting = 256;
  revoked = false;
  /** Writes still to fail, as while the state stream has no leader (a NATS node gone). */
  failingWrites = 0;
  readonly #objects: Map<string, Uint8Array>;
  readonly #listeners: ((positions: readonly number[]) => void)[] = [];

  constructor(objects: Map<string, Uint8Array>) {
    this.#objects = objects;
  }

  stateStore(componentId: string) {
    const objects = this.#objects;
    // Versions as JetStream keeps them: each claim or write is a new one.
    const known = versionsOf.get(objects) ?? new Map<string, number>();
    versionsOf.set(objects, known);
    const snapshots: SnapshotObjects = {
      claim: async (name) => {
        const version = (known.get(name) ?? 0) + 1;
        known.set(name, version);
        return { bytes: objects.get(name), version };
      },
      put: async (name, bytes, expected) => {
        if (this.failingWrites > 0) {
          this.failingWrites--;
          throw new Error('503');
        }
        if ((known.get(name) ?? 0) !== expected.version) throw stateTakenError(name);
        objects.set(name, new Uint8Array(bytes));
        known.set(name, expected.version + 1);
        return expected.version + 1;
      },
    };
    return new JetStreamStateStore(snapshots, `p0.${componentId}`);
  }

  onForgotten(listener: (positions: readonly number[]) => void): void {
    this.#listeners.push(listener);
  }

  forget(positions: number[]): void {
    for (const listener of this.#listeners) listener(positions);
  }
}

/** Accepts every batch; `settled` resolves only when `sent` says so. */
class Exporter implements Consumer {
  readonly batches: MetricBatch[] = [];
  sent = true;
  async consume(batch: MetricBatch): Promise<void> {
    this.batches.push(batch);
  }
  settled = () =>
    this.sent ? Promise.resolve() : new Promise<void>(() => {} /* never: a send that hangs */);
  /** Every point as `start time value`. */
  points(): string[] {
    return this.batches.flatMap((b) =>
      [...b.pointViews()].map((p) => `${p.startTime} ${p.time} ${p.exactValue}`),
    );
  }
}

async function member(objects: Map<string, Uint8Array>, out: Exporter) {
  const scope = new Scope(objects);
  const processor = new AggregateProcessor(
    { id: 'aggregate', logger, partition: scope },
    aggregateConfig.parse({ interval: '1h', rules: [{ metrics: ['c'], group_by: [] }] }),
    out,
  );
  await processor.start();
  running.push(processor);
  /** Hands over message `position`: a delta of `value` for series `s` over (time - 1, time]. */
  const hand = (position: number, series: string, time: bigint, value: number) => {
    scope.position = position;
    return processor.consume(
      monotonicSums(Temporality.Delta, [{ series, start: time - 1n, time, value }]),
    );
  };
  return { processor, scope, hand };
}

/** Whether `promise` settled within a few event-loop turns. */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  const settle = () => {
    done = true;
  };
  void promise.then(settle, settle);
  await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

describe('aggregate in a partition chain', () => {
  it('settles a message only once a snapshot holds it', async () => {
    const objects = new Map<string, Uint8Array>();
    const { processor, hand } = await member(objects, new Exporter());
    await hand(1, 'a', 10n, 5);
    const settled = processor.settled!();
    expect(await settledSoon(settled)).toBe(false);
    processor.flush();
    expect(await settledSoon(settled)).toBe(true);
    expect(objects.has('p0.aggregate')).toBe(true);
  });

  it('emits and snapshots before the interval once the source holds half the messages it hands over', async () => {
    const objects = new Map<string, Uint8Array>();
    const out = new Exporter();
    const { scope, hand } = await member(objects, out);
    scope.waiting = 100;
    await hand(1, 'a', 10n, 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(out.batches).toEqual([]); // the interval is an hour
    scope.waiting = 128;
    await hand(2, 'a', 11n, 2);
    await waitUntil('an early flush', () => out.batches.length > 0, 2_000, 5);
    expect(out.points()).toEqual(['9 11 7']);
    expect(objects.has('p0.aggregate')).toBe(true);
  });

  it('writes nothing once the partition was revoked, and settles nothing it applied after', async () => {
    const objects = new Map<string, Uint8Array>();
    const out = new Exporter();
    const { processor, scope, hand } = await member(objects, out);
    await hand(1, 'a', 10n, 5);
    processor.flush();
    await processor.settled!();
    const stored = objects.get('p0.aggregate');
    await hand(2, 'a', 11n, 2);
    const settled = processor.settled!();
    scope.revoked = true; // another member may be loading the state now
    processor.flush();
    running.splice(0);
    await processor.shutdown();
    await expect(settled).rejects.toThrow(/closed before a snapshot/);
    expect(objects.get('p0.aggregate')).toBe(stored);
    expect(out.points()).toEqual(['9 10 5']); // message 2's output is the next holder's to emit
  });

  it('refuses the snapshots of a member that lost the partition without knowing: it emits and settles nothing after the next holder loaded', async () => {
    const objects = new Map<string, Uint8Array>();
    const outA = new Exporter();
    const a = await member(objects, outA);
    await a.hand(1, 'a', 10n, 5);
    a.processor.flush();
    await a.processor.settled!();
    await a.hand(2, 'a', 11n, 2);
    const settled = a.processor.settled!();

    // A pauses past its lease (never revoked: it does not know yet); B takes the partition.
    const outB = new Exporter();
    const b = await member(objects, outB);
    const loaded = objects.get('p0.aggregate');
    a.processor.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(objects.get('p0.aggregate')).toBe(loaded);
    expect(outA.points()).toEqual(['9 10 5']); // nothing from a state B does not have
    expect(await settledSoon(settled)).toBe(false); // message 2 stays unacknowledged

    await b.hand(2, 'a', 11n, 2); // handed out again to B
    b.processor.flush();
    await b.processor.settled!();
    expect(outB.points()).toEqual(['10 11 2']);
  });

  it('skips a message handed over again that the restored snapshot holds, and applies one it misses', async () => {
    const objects = new Map<string, Uint8Array>();
    const outA = new Exporter();
    const a = await member(objects, outA);
    await a.hand(1, 'a', 10n, 5);
    await a.hand(2, 'b', 10n, 3);
    a.processor.flush();
    await a.processor.settled!();
    await waitUntil(
      'the emit marked delivered',
      () => objects.has('p0.aggregate.delivered'),
      2_000,
      5,
    );
    await a.hand(3, 'a', 11n, 7); // merged, never snapshotted: lost with the crash
    running.splice(0); // crash: no shutdown, no flush

    const outB = new Exporter();
    const b = await member(objects, outB);
    expect(outB.batches).toEqual([]); // the restored emit was delivered: not emitted again
    // JetStream hands out again whatever was not acknowledged, in any order.
    await b.hand(3, 'a', 11n, 7);
    await b.hand(2, 'b', 10n, 3);
    await b.hand(1, 'a', 10n, 5);
    expect(b.processor.dropped).toEqual({ redelivered: 2 });
    b.processor.flush();
    await b.processor.settled!();
    // A emitted 5 + 3 over (9, 10]; B the 7 over (10, 11], once.
    expect(outA.points()).toEqual(['9 10 8']);
    expect(outB.points()).toEqual(['10 11 7']);
  });

  it('does not skip a message once the source confirmed forgetting it', async () => {
    const objects = new Map<string, Uint8Array>();
    const a = await member(objects, new Exporter());
    await a.hand(1, 'a', 10n, 5);
    a.processor.flush();
    await a.processor.settled!();
    a.scope.forget([1]);
    await a.hand(2, 'a', 11n, 1);
    a.processor.flush();
    await a.processor.settled!();
    running.splice(0);

    const b = await member(objects, new Exporter());
    // A later message with the same position would be a new one (a different stream): applied.
    await b.hand(1, 'a', 12n, 2);
    await b.hand(2, 'a', 11n, 1);
    expect(b.processor.dropped).toEqual({ redelivered: 1 });
  });

  it('writes a failed snapshot again and emits its outputs once stored, when no message comes after', async () => {
    const objects = new Map<string, Uint8Array>();
    const out = new Exporter();
    const { processor, scope, hand } = await member(objects, out);
    await hand(1, 'a', 10n, 5); // the last message the partition gets
    const settled = processor.settled!();
    scope.failingWrites = 2;
    processor.flush();
    processor.flush(); // the next interval, while the snapshot is still being written
    await waitUntil('the snapshot stored', () => objects.has('p0.aggregate'), 5_000, 5);
    await settled;
    await waitUntil('the emit', () => out.batches.length > 0, 2_000, 5);
    expect(out.points()).toEqual(['9 10 5']);
    expect(scope.failingWrites).toBe(0);

    // Given up while a snapshot is written again: what gathered meanwhile is emitted and
    // snapshotted before the chain closes, not left to the next holder.
    await hand(2, 'a', 11n, 2);
    scope.failingWrites = 1;
    processor.flush();
    await hand(3, 'a', 12n, 1);
    const last = processor.settled!();
    running.splice(0);
    await processor.shutdown();
    await last;
    expect(out.points()).toEqual(['9 10 5', '10 11 2', '11 12 1']);
  });

  it('stops writing a failed snapshot once the partition is taken away', async () => {
    const objects = new Map<string, Uint8Array>();
    const out = new Exporter();
    const { processor, scope, hand } = await member(objects, out);
    await hand(1, 'a', 10n, 5);
    const settled = processor.settled!();
    scope.failingWrites = 1_000;
    processor.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    scope.revoked = true;
    running.splice(0);
    await processor.shutdown(); // does not wait for a write that cannot succeed any more
    await expect(settled).rejects.toThrow(/closed before a snapshot/);
    expect(objects.has('p0.aggregate')).toBe(false);
    expect(out.batches).toEqual([]); // the next holder's to emit, from the messages handed out again
  });

  it('emits the restored outputs again, the same points, when their delivery was never marked', async () => {
    const objects = new Map<string, Uint8Array>();
    const outA = new Exporter();
    outA.sent = false; // accepted into the queue, never sent: the crash loses it
    const a = await member(objects, outA);
    await a.hand(1, 'a', 10n, 5);
    a.processor.flush();
    await waitUntil('the snapshot stored', () => objects.has('p0.aggregate'), 2_000, 5);
    expect(outA.points()).toEqual(['9 10 5']);
    running.splice(0);

    const outB = new Exporter();
    const b = await member(objects, outB);
    await waitUntil('the emit again', () => outB.batches.length > 0, 2_000, 5);
    expect(outB.points()).toEqual(outA.points());
    await b.hand(1, 'a', 10n, 5); // held by the snapshot: skipped
    await b.hand(2, 'a', 11n, 2);
    b.processor.flush();
    await b.processor.settled!();
    expect(outB.points()).toEqual(['9 10 5', '10 11 2']);
  });
});

describe('deltatocumulative in a partition chain', () => {
  async function member(objects: Map<string, Uint8Array>, out: Exporter) {
    const scope = new Scope(objects);
    const processor = new DeltaToCumulativeProcessor(
      { id: 'deltatocumulative', logger, partition: scope },
      { max_stale: 300_000, max_streams: 1_000 },
      out,
    );
    await processor.start();
    running.push(processor);
    const hand = (position: number, time: bigint, value: number) => {
      scope.position = position;
      return processor.consume(
        monotonicSums(Temporality.Delta, [{ series: 'a', start: time - 1n, time, value }]),
      );
    };
    return { processor, scope, hand };
  }

  it('continues the totals from the snapshot, each message counted once', async () => {
    const objects = new Map<string, Uint8Array>();
    const outA = new Exporter();
    const a = await member(objects, outA);
    await a.hand(1, 10n, 5);
    const settled = a.processor.settled!();
    expect(await settledSoon(settled)).toBe(false); // a snapshot comes a second later
    await settled;
    await a.hand(2, 11n, 3); // emitted, never snapshotted
    running.splice(0);

    const outB = new Exporter();
    const b = await member(objects, outB);
    await b.hand(2, 11n, 3);
    await b.hand(1, 10n, 5);
    await b.hand(3, 12n, 1);
    expect(b.processor.dropped).toEqual({ redelivered: 1 });
    // B emits for message 2 the total A emitted for it, then goes on.
    expect(outA.points()).toEqual(['9 10 5', '9 11 8']);
    expect(outB.points()).toEqual(['9 11 8', '9 12 9']);
  });
});
