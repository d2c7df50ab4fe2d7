import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { hashRange, sameBytes } from '../../model/attribute-table.js';
import { IdHashIndex } from '../../model/id-hash-index.js';
import { AttributeEncoder } from './attribute-encoder.js';

/** An instrument's points as the previous `resolve` calls left them, by position. */
interface InstrumentMemo {
  /** The SDK's attributes object at each position (the SDK holds them anyway). */
  attributes: Attributes[];
  /** The entry each position resolved to. */
  entries: Int32Array;
  /** The compaction epoch in which it was last resolved (older ones are dropped). */
  epoch: number;
}

const MIN_ENTRIES = 1024;
/** No compaction below this many entries: there is little to win. */
const MIN_COMPACTION = 4096;

/**
 * The encoded attributes of SDK data points, kept across exports, in columns.
 *
 * Each distinct attribute set is an *entry*: its OTLP `KeyValue` bytes (each entry tagged
 * `0x0a`) in a shared 64 KiB slab, and its hash, in typed arrays indexed by entry — no
 * object per set, because a big app has a few hundred thousand series and the cache
 * lives as long as the app (objects and a `WeakMap` entry per set were 19 MB of heap at
 * 100k series, more than the peak of an export).
 *
 * An instrument's points come in the same order every time (the SDK keeps them in
 * insertion order), so a point is matched by position against the previous export:
 * steady-state exports compare one reference per point and encode nothing. A point that
 * does not match is encoded and looked up by its bytes (so instruments that share
 * attribute sets share entries). Where positions keep changing (delta temporality: the
 * SDK's order is the order of the interval's first recordings), the attributes objects are
 * also remembered in a `WeakMap`, so the next reshuffle finds them without encoding.
 *
 * Entries no position refers to any more are dropped by a compaction once the table has
 * grown by half since the last one and many positions changed: memory follows the live
 * series, not every set ever seen. An attributes object must not be mutated after it was
 * recorded (the SDK itself relies on that).
 */
export class SdkAttributeCache {
  /** Per entry: which of `slabs` holds its bytes, where, how many, and their hash. */
  slabs: DataView[] = [];
  slabOf = new Int32Array(MIN_ENTRIES);
  offsets = new Int32Array(MIN_ENTRIES);
  lengths = new Int32Array(MIN_ENTRIES);
  hashes = new Int32Array(MIN_ENTRIES);
  /**
   * Free for the user of the cache: the conversion that last interned an entry's bytes,
   * and the set id it got there.
   */
  conversions = new Int32Array(MIN_ENTRIES);
  sets = new Int32Array(MIN_ENTRIES);
  #count = 0;
  /** Entries by the hash of their bytes. */
  #index = new IdHashIndex(MIN_ENTRIES);
  #encoder = new AttributeEncoder();
  #reshuffled: WeakMap<Attributes, number> | undefined;
  #previous = new Map<string, InstrumentMemo>();
  #epoch = 0;
  /** Entries after the last compaction, and positions that changed entry since. */
  #liveAtCompaction = 0;
  #changed = 0;

  /** How many entries the cache holds. */
  get size(): number {
    return this.#count;
  }

  /**
   * The entry of every point of `dataPoints[start, end)`: position `k` of the result is
   * point `k`'s. The result and the columns are valid until the next call (any instrument:
   * a compaction renumbers entries).
   */
  resolve(
    instrument: string,
    dataPoints: readonly DataPoint<unknown>[],
    start: number,
    end: number,
  ): Int32Array {
    if (this.#shouldCompact()) this.#compact();
    let memo = this.#previous.get(instrument);
    if (memo === undefined) {
      memo = { attributes: [], entries: new Int32Array(MIN_ENTRIES), epoch: this.#epoch };
      this.#previous.set(instrument, memo);
    }
    memo.epoch = this.#epoch;
    if (memo.entries.length < end) {
      const entries = new Int32Array(Math.max(end, memo.entries.length * 2));
      entries.set(memo.entries);
      memo.entries = entries;
    }
    const { attributes: previous, entries } = memo;
    const known = previous.length;
    for (let k = start; k < end; k++) {
      const attributes = dataPoints[k].attributes;
      if (previous[k] !== attributes) {
        const moved = k < known;
        entries[k] = this.#entryOf(attributes, moved);
        previous[k] = attributes;
        if (moved) this.#changed++;
      }
    }
    if (end === dataPoints.length && end < known) {
      this.#changed += known - end;
      previous.length = end;
    }
    return entries;
  }

  #entryOf(attributes: Attributes, moved: boolean): number {
    const seen = this.#reshuffled?.get(attributes);
    if (seen !== undefined) return seen;
    const encoder = this.#encoder;
    const offset = encoder.write(attributes);
    const slab = encoder.slabView;
    const length = encoder.end - offset;
    const hash = hashRange(slab, offset, offset + length);
    let entry = this.#find(slab, offset, length, hash);
    if (entry === -1) {
      entry = this.#add(slab, offset, length, hash);
    } else {
      encoder.unwrite(offset);
      // A known set at another position: the order changes between exports, so the next
      // export will likely meet this object elsewhere again.
      if (moved) {
        this.#reshuffled ??= new WeakMap();
        this.#reshuffled.set(attributes, entry);
      }
    }
    return entry;
  }

  #find(slab: DataView, offset: number, length: number, hash: number): number {
    const index = this.#index;
    for (let slot = index.first(hash); index.idAt(slot) !== -1; slot = index.next(slot)) {
      if (index.hashAt(slot) !== hash) continue;
      const entry = index.idAt(slot);
      if (
        this.lengths[entry] === length &&
        sameBytes(this.slabs[this.slabOf[entry]], this.offsets[entry], slab, offset, length)
      ) {
        return entry;
      }
    }
    return -1;
  }

  /** A new entry for bytes the encoder just wrote (or copied) at `slab[offset, +length)`. */
  #add(slab: DataView, offset: number, length: number, hash: number): number {
    if (this.#count === this.offsets.length) this.#growColumns(this.#count * 2);
    const entry = this.#count++;
    if (this.slabs[this.slabs.length - 1] !== slab) this.slabs.push(slab);
    this.slabOf[entry] = this.slabs.length - 1;
    this.offsets[entry] = offset;
    this.lengths[entry] = length;
    this.hashes[entry] = hash;
    this.conversions[entry] = -1;
    this.sets[entry] = -1;
    this.#index.insert(hash, entry);
    return entry;
  }

  /** New columns of `capacity` entries, holding the first `#count` entries of the old ones. */
  #growColumns(capacity: number): void {
    const grown = (from: Int32Array) => {
      const to = new Int32Array(capacity);
      to.set(from.subarray(0, this.#count));
      return to;
    };
    this.slabOf = grown(this.slabOf);
    this.offsets = grown(this.offsets);
    this.lengths = grown(this.lengths);
    this.hashes = grown(this.hashes);
    this.conversions = grown(this.conversions);
    this.sets = grown(this.sets);
  }

  /**
   * Worth a compaction once the table grew by half since the last one and at least a
   * quarter of its entries' positions changed (without changes, nothing was let go).
   */
  #shouldCompact(): boolean {
    const count = this.#count;
    return (
      count >= MIN_COMPACTION && count >= this.#liveAtCompaction * 1.5 && this.#changed >= count / 4
    );
  }

  /**
   * Keeps only the entries some position of an instrument resolved since the last
   * compaction refers to, renumbered in the order of those positions, with their bytes
   * copied into fresh slabs; instruments not resolved since are forgotten.
   */
  #compact(): void {
    const renumbered = new Int32Array(this.#count).fill(-1);
    const order: number[] = [];
    for (const [instrument, memo] of this.#previous) {
      if (memo.epoch !== this.#epoch) {
        this.#previous.delete(instrument);
        continue;
      }
      const { entries } = memo;
      for (let k = 0; k < memo.attributes.length; k++) {
        const entry = entries[k];
        if (renumbered[entry] === -1) {
          renumbered[entry] = order.length;
          order.push(entry);
        }
        entries[k] = renumbered[entry];
      }
    }
    const { slabs, slabOf, offsets, lengths, hashes, conversions, sets } = this;
    const live = order.length;
    const capacity = Math.max(MIN_ENTRIES, 2 * live);
    this.slabs = [];
    this.#count = 0;
    this.#growColumns(capacity);
    this.#index = new IdHashIndex(capacity);
    this.#encoder = new AttributeEncoder();
    for (const old of order) {
      const length = lengths[old];
      const offset = this.#encoder.copy(slabs[slabOf[old]], offsets[old], length);
      const entry = this.#add(this.#encoder.slabView, offset, length, hashes[old]);
      this.conversions[entry] = conversions[old];
      this.sets[entry] = sets[old];
    }
    this.#reshuffled = undefined;
    this.#liveAtCompaction = live;
    this.#changed = 0;
    this.#epoch++;
  }
}
