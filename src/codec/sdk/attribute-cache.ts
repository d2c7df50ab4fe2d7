import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { hashBytes } from '../../model/attribute-table.js';
import { AttributeEncoder } from './attribute-encoder.js';

/**
 * One SDK attributes object, encoded once for as long as the SDK keeps it. Kept per series
 * (a few hundred thousand in a big app): plain numbers and one shared slab view, no view of
 * its own — a `Uint8Array` per set was a third of the cache's memory.
 */
export interface EncodedAttributes {
  /** The slab holding the OTLP `KeyValue` entries (each tagged `0x0a`)... */
  slab: DataView;
  /** ...at `slab[offset, offset + length)`. */
  offset: number;
  length: number;
  hash: number;
  /** Free for the user of the cache: the conversion that last interned these bytes... */
  conversion: number;
  /** ...and the set id it got there. */
  set: number;
}

/**
 * The encoded attributes of one instrument's points, by position, as the last `resolve`
 * left them. Besides the objects, the slab, offset, length and hash of each position are
 * kept in arrays: a writer that reads them in order walks memory in order, instead of
 * following a pointer per point into a heap the size of the SDK's (a cache miss each).
 */
export interface ResolvedAttributes {
  readonly encoded: readonly EncodedAttributes[];
  readonly slabs: readonly DataView[];
  readonly offsets: Int32Array;
  readonly lengths: Int32Array;
  readonly hashes: Int32Array;
}

interface InstrumentMemo extends ResolvedAttributes {
  attributes: Attributes[];
  encoded: EncodedAttributes[];
  slabs: DataView[];
  offsets: Int32Array;
  lengths: Int32Array;
  hashes: Int32Array;
}

/**
 * The encoded attributes of SDK data points, kept across exports.
 *
 * The SDK hands an exporter the same attributes object for a series at every collection,
 * so each object's bytes and hash live in a `WeakMap` (steady-state exports encode no
 * attributes at all). And an instrument's points come in the same order every time (the
 * SDK keeps them in insertion order), so most points are matched by position against the
 * previous export, without even a `WeakMap` lookup. An attributes object must not be
 * mutated after it was recorded (the SDK itself relies on that).
 */
export class SdkAttributeCache {
  #encoded = new WeakMap<Attributes, EncodedAttributes>();
  /** Per instrument, the attributes of the previous export's points, in order. */
  #previous = new Map<string, InstrumentMemo>();
  #encoder = new AttributeEncoder();

  /**
   * The encoded attributes of `dataPoints[start, end)`: position `k` of the result is point
   * `k`'s (valid until the next call for the same `instrument`).
   */
  resolve(
    instrument: string,
    dataPoints: readonly DataPoint<unknown>[],
    start: number,
    end: number,
  ): ResolvedAttributes {
    let memo = this.#previous.get(instrument);
    if (memo === undefined) {
      memo = {
        attributes: [],
        encoded: [],
        slabs: [],
        offsets: new Int32Array(0),
        lengths: new Int32Array(0),
        hashes: new Int32Array(0),
      };
      this.#previous.set(instrument, memo);
    }
    if (memo.offsets.length < end) grow(memo, end);
    const { attributes: previous, encoded, slabs, offsets, lengths, hashes } = memo;
    for (let k = start; k < end; k++) {
      const attributes = dataPoints[k].attributes;
      if (previous[k] !== attributes) {
        const e = this.#encodedOf(attributes);
        previous[k] = attributes;
        encoded[k] = e;
        slabs[k] = e.slab;
        offsets[k] = e.offset;
        lengths[k] = e.length;
        hashes[k] = e.hash;
      }
    }
    if (end === dataPoints.length) {
      previous.length = end;
      encoded.length = end;
      slabs.length = end;
    }
    return memo;
  }

  #encodedOf(attributes: Attributes): EncodedAttributes {
    let encoded = this.#encoded.get(attributes);
    if (encoded === undefined) {
      const bytes = this.#encoder.encode(attributes);
      encoded = {
        slab: this.#encoder.slabView,
        offset: bytes.byteOffset,
        length: bytes.length,
        hash: hashBytes(bytes),
        conversion: -1,
        set: -1,
      };
      this.#encoded.set(attributes, encoded);
    }
    return encoded;
  }
}

function grow(memo: InstrumentMemo, size: number): void {
  const capacity = Math.max(size, memo.offsets.length * 2, 1024);
  const offsets = new Int32Array(capacity);
  const lengths = new Int32Array(capacity);
  const hashes = new Int32Array(capacity);
  offsets.set(memo.offsets);
  lengths.set(memo.lengths);
  hashes.set(memo.hashes);
  memo.offsets = offsets;
  memo.lengths = lengths;
  memo.hashes = hashes;
}
