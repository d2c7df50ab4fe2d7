import type { Attributes } from '@opentelemetry/api';
import type { DataPoint } from '@opentelemetry/sdk-metrics';
import { hashBytes } from '../../model/attribute-table.js';
import { AttributeEncoder } from './attribute-encoder.js';

/** One SDK attributes object, encoded once for as long as the SDK keeps it. */
export interface EncodedAttributes {
  /** OTLP `KeyValue` entries, each tagged `0x0a`. */
  bytes: Uint8Array;
  hash: number;
  /** Free for the user of the cache: the conversion that last interned these bytes... */
  conversion: number;
  /** ...and the set id it got there. */
  set: number;
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
  #previous = new Map<string, { attributes: Attributes[]; encoded: EncodedAttributes[] }>();
  #encoder = new AttributeEncoder();

  /**
   * The encoded attributes of `dataPoints[start, end)`: entry `k` of the returned array is
   * point `k`'s (valid until the next call for the same `instrument`).
   */
  resolve(
    instrument: string,
    dataPoints: readonly DataPoint<unknown>[],
    start: number,
    end: number,
  ): readonly EncodedAttributes[] {
    let memo = this.#previous.get(instrument);
    if (memo === undefined) {
      memo = { attributes: [], encoded: [] };
      this.#previous.set(instrument, memo);
    }
    const { attributes: previous, encoded } = memo;
    for (let k = start; k < end; k++) {
      const attributes = dataPoints[k].attributes;
      if (previous[k] !== attributes) {
        previous[k] = attributes;
        encoded[k] = this.#encodedOf(attributes);
      }
    }
    if (end === dataPoints.length) {
      previous.length = end;
      encoded.length = end;
    }
    return encoded;
  }

  #encodedOf(attributes: Attributes): EncodedAttributes {
    let encoded = this.#encoded.get(attributes);
    if (encoded === undefined) {
      const bytes = this.#encoder.encode(attributes);
      encoded = { bytes, hash: hashBytes(bytes), conversion: -1, set: -1 };
      this.#encoded.set(attributes, encoded);
    }
    return encoded;
  }
}
