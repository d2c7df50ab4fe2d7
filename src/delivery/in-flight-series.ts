import type { MetricBatch } from '../model/metric-batch.js';
import { Temporality } from '../model/types.js';

/** One delivery's series, while it is in flight (`InFlightSeries.admit` → `release`). */
export interface SeriesHold {
  readonly keys: Int32Array;
  readonly collection: number | undefined;
  /** Its number in the table, once its keys are there (only when another needs them); or 0. */
  serial: number;
}

/**
 * The series of the deliveries in flight, so that work sharing a series with one of them
 * waits for it and points of one series reach the backend in order.
 *
 * One table holds the keys of the deliveries in flight, each with its owner's serial number:
 * a new delivery's keys are checked and entered in one probe each, however many deliveries
 * are in flight, and a finished delivery leaves in O(1) — its serial stops being live, and
 * its entries are garbage that the same keys take again when they come back (the table is
 * rebuilt from the live holds when garbage fills it). Sets per delivery, each built key by
 * key and probed against each other, cost 84 ns a key on the load generator's series with
 * three 8192-key deliveries in flight; this, 15-30 ns.
 * A delivery's keys enter the table only when a later one must be checked against them: with
 * one delivery at a time, or among requests of one SDK collection (one point per series),
 * nothing is entered.
 *
 * Keys are 32-bit series hashes: two series sharing one only make a delivery wait.
 */
export class InFlightSeries {
  readonly #holds = new Set<SeriesHold>();
  /**
   * Open addressing, linear probing: each slot a key and its owner's serial (0: empty), side
   * by side, so a probe reads one cache line (the table of four 8192-key deliveries in flight
   * is a megabyte: two arrays cost a miss more per key).
   */
  #table = new Int32Array(2 * 1024);
  #mask = 1023;
  /** 32 - log2(slots): a key's home is the top bits of its Fibonacci product. */
  #shift = 22;
  /** Slots holding an entry, live or garbage. */
  #used = 0;
  /** Whether a key has two entries (see `#enter`); until the next rebuild. */
  #sharedKeys = false;
  #lastSerial = 0;
  /** Live serials: `#live[serial & #liveMask] === serial` (no two live ones share a place). */
  #live = new Int32Array(16);
  #liveMask = 15;
  /** Live holds by serial: the one a conflicting key belongs to is the one to wait for. */
  readonly #bySerial = new Map<number, SeriesHold>();
  /** Resolves the waits for a hold's release. */
  readonly #waits = new Map<SeriesHold, { promise: Promise<void>; resolve: () => void }>();
  /** The hold whose key the last refused check met. */
  #blocker: SeriesHold | undefined;

  /** Deliveries in flight that hold series. */
  get size(): number {
    return this.#holds.size;
  }

  /**
   * Resolves once no delivery in flight shares a key with `keys`, with the hold that makes
   * later deliveries wait for these series until it is released. Calls must not overlap
   * (the engine's dispatcher admits one delivery at a time, in queue order).
   */
  async admit(keys: Int32Array, collection: number | undefined): Promise<SeriesHold> {
    const hold: SeriesHold = { keys, collection, serial: 0 };
    // Checked again only once the delivery that held a shared series is done: a check is a
    // probe per key, and other deliveries finishing meanwhile change nothing for this one.
    for (let blocker = this.#blocking(hold); blocker; blocker = this.#blocking(hold)) {
      await this.#releaseOf(blocker);
    }
    this.#holds.add(hold);
    return hold;
  }

  release(hold: SeriesHold): void {
    if (!this.#holds.delete(hold)) return;
    const place = hold.serial & this.#liveMask;
    if (hold.serial !== 0 && this.#live[place] === hold.serial) this.#live[place] = 0;
    this.#bySerial.delete(hold.serial);
    this.#waits.get(hold)?.resolve();
    this.#waits.delete(hold);
  }

  /** The hold in flight that shares a key with `hold`, if one does. */
  #blocking(hold: SeriesHold): SeriesHold | undefined {
    if (!this.#blocked(hold)) return undefined;
    // Every live serial is a hold in flight; should one not be, any hold in flight will do.
    return this.#blocker ?? this.#holds.values().next().value;
  }

  #blocked(hold: SeriesHold): boolean {
    let others = false;
    for (const held of this.#holds) {
      if (hold.collection !== undefined && held.collection === hold.collection) continue;
      others = true;
      if (held.serial === 0) this.#enter(held, false);
    }
    // Holds of the same collection may be in the table too (for an earlier check): they share
    // no series with these keys, only, rarely, a hash, which costs a wait.
    return others && !this.#enter(hold, true);
  }

  /**
   * Enters `hold`'s keys under a new serial and makes it live; with `check`, stops at the
   * first key a live owner holds and returns false (what was entered stays garbage).
   *
   * A key has one entry, live or garbage: a key met again takes its own old entry, and a
   * probe stops there. Series recur (every export interval sends the same ones), so most keys
   * find their entry a slot or two from home, where scanning each run to its end and reusing
   * the first garbage slot left several entries per key and cost a liveness test a slot:
   * 50-65 ns a key against 15-30, alternating (a micro-benchmark of admits and releases, 50,000
   * recurring series, four 8192-key deliveries in flight, caches flushed between them), and
   * 11 % of an OTLP relay's CPU against 5 % (perf profile of the collector benchmark).
   * The one exception: a key entered unchecked (`check` false) beside a live entry of another
   * hold (requests of one collection may share a hash) gets a second entry, after the first.
   * Once that has happened, a garbage entry might hide a live one further on, so until the
   * table is rebuilt a probe that meets garbage of its key goes on to the end of the run.
   */
  #enter(hold: SeriesHold, check: boolean): boolean {
    const { keys } = hold;
    if ((this.#used + keys.length) * 2 > this.#mask + 1) this.#rebuild(keys.length);
    const serial = this.#nextSerial();
    const table = this.#table;
    const mask = this.#mask;
    const shift = this.#shift;
    const live = this.#live;
    const liveMask = this.#liveMask;
    let used = this.#used;
    next: for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      let slot = Math.imul(key, 0x9e3779b1) >>> shift;
      let garbage = -1;
      let beside = false;
      for (let owner = table[2 * slot + 1]; owner !== 0; owner = table[2 * slot + 1]) {
        if (table[2 * slot] === key) {
          if (owner === serial) continue next; // the key twice in one delivery
          if (live[owner & liveMask] === owner) {
            if (check) {
              this.#used = used;
              this.#blocker = this.#bySerial.get(owner);
              return false;
            }
            beside = true;
          } else if (!this.#sharedKeys) {
            table[2 * slot + 1] = serial;
            continue next;
          } else if (garbage === -1) garbage = slot;
        }
        slot = (slot + 1) & mask;
      }
      if (beside) this.#sharedKeys = true;
      if (garbage !== -1) slot = garbage;
      else {
        table[2 * slot] = key;
        used++;
      }
      table[2 * slot + 1] = serial;
    }
    this.#used = used;
    hold.serial = serial;
    this.#makeLive(serial);
    this.#bySerial.set(serial, hold);
    return true;
  }

  #nextSerial(): number {
    // Serials wrap at 2^31: an entry left from a serial used 2^31 deliveries ago can only
    // look live to its namesake, which costs a wait, not an order.
    this.#lastSerial = this.#lastSerial === 0x7fffffff ? 1 : this.#lastSerial + 1;
    return this.#lastSerial;
  }

  #makeLive(serial: number): void {
    while (this.#live[serial & this.#liveMask] !== 0) this.#growLive();
    this.#live[serial & this.#liveMask] = serial;
  }

  /**
   * Twice the places for live serials. Live serials never share a place, so at twice the
   * size (one more bit of each) they still do not.
   */
  #growLive(): void {
    const size = this.#live.length * 2;
    const live = new Int32Array(size);
    for (const serial of this.#live) if (serial !== 0) live[serial & (size - 1)] = serial;
    this.#live = live;
    this.#liveMask = size - 1;
  }

  /**
   * An empty table with room for the live holds' keys and `more`, at most half full; the live
   * holds' keys are entered again (under new serials: garbage keeps its old ones).
   */
  #rebuild(more: number): void {
    const holds = [...this.#holds].filter(
      (held) => held.serial !== 0 && this.#live[held.serial & this.#liveMask] === held.serial,
    );
    let needed = more;
    for (const held of holds) needed += held.keys.length;
    let slots = 1024;
    while (slots < needed * 4) slots *= 2;
    if (slots === this.#mask + 1) this.#table.fill(0);
    else {
      this.#table = new Int32Array(2 * slots);
      this.#mask = slots - 1;
      this.#shift = 32 - Math.log2(slots);
    }
    this.#used = 0;
    this.#sharedKeys = false;
    this.#live.fill(0);
    this.#bySerial.clear();
    for (const held of holds) this.#enter(held, false);
  }

  #releaseOf(hold: SeriesHold): Promise<void> {
    let wait = this.#waits.get(hold);
    if (!wait) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      wait = { promise, resolve };
      this.#waits.set(hold, wait);
    }
    return wait.promise;
  }
}

/**
 * Keys of the batch's series whose order matters (everything but delta temporality), or
 * `undefined` when none does.
 */
export function seriesKeysOfBatch(batch: MetricBatch): Int32Array | undefined {
  const keys = new Int32Array(batch.seriesCount);
  const seen = new Uint8Array(batch.seriesCount);
  const series = batch.points.series;
  let count = 0;
  for (let i = 0; i < batch.pointCount; i++) {
    const s = series[i];
    if (seen[s]) continue;
    seen[s] = 1;
    if (batch.metrics[batch.seriesMetric(s)].temporality === Temporality.Delta) continue;
    keys[count++] = batch.seriesHash(s);
  }
  return count > 0 ? keys.subarray(0, count) : undefined;
}
