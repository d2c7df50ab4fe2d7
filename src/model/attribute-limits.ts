import { SluiceError } from './errors.js';
import { anyValueSize } from './key-value-bytes.js';
import type { MetricBatch } from './metric-batch.js';
import { WireReader } from './wire-reader.js';

/**
 * Bounds on what one attribute set may hold: a point (or resource) with 10,000 attributes
 * or a 1 MiB attribute value fits in a request body, but it would become a series key held
 * by every table downstream (aggregate, cumulative state, cardinality limit, the scrape
 * endpoint) for as long as the series lives.
 */
export interface AttributeLimits {
  /** `max_attributes_per_point`: attributes in one point's (or resource's) set. */
  maxAttributes: number;
  /** `max_attribute_value_bytes`: the encoded size of one attribute's value. */
  maxValueBytes: number;
}

/** A request over the receiver's attribute limits: answered like malformed data (400). */
export class AttributeLimitError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_ATTRIBUTE_LIMIT', message);
  }
}

/**
 * Throws `AttributeLimitError` naming the first attribute set of `batch` over `limits`:
 * the point attribute sets (each checked once, from its wire bytes) and the resources.
 * Scope attributes are left to the body size limit: they do not identify a series.
 */
export function checkAttributeLimits(batch: MetricBatch, limits: AttributeLimits): void {
  const table = batch.attributes;
  const reader = new WireReader(table.arena);
  for (let set = 0; set < table.count; set++) {
    let count = 0;
    const end = table.end(set);
    reader.pos = table.start(set);
    while (reader.pos < end) {
      // Entry: 0x0a, length, KeyValue { 1: key, 2: AnyValue }.
      reader.varint32(end);
      const entryEnd = reader.delimited(end);
      count++;
      let keyStart = reader.pos;
      let keyEnd = reader.pos;
      while (reader.pos < entryEnd) {
        const tag = reader.varint32(entryEnd);
        // An unknown field is valid protobuf (the decoder kept it): skip it by its wire type.
        if ((tag & 7) !== 2) {
          reader.skip(tag & 7, entryEnd);
          continue;
        }
        const fieldEnd = reader.delimited(entryEnd);
        const start = reader.pos;
        if (tag === 0x0a) [keyStart, keyEnd] = [start, fieldEnd];
        else if (tag === 0x12 && fieldEnd - start > limits.maxValueBytes) {
          const key = Buffer.from(table.arena.subarray(keyStart, keyEnd)).toString('utf8');
          throw new AttributeLimitError(
            `point attribute "${key}" has a value of ${fieldEnd - start} bytes, over max_attribute_value_bytes ${limits.maxValueBytes}`,
          );
        }
        reader.pos = fieldEnd;
      }
    }
    if (count > limits.maxAttributes) {
      throw new AttributeLimitError(
        `a point has ${count} attributes, over max_attributes_per_point ${limits.maxAttributes}`,
      );
    }
  }
  for (const resource of batch.resources) {
    if (resource.attributes.length > limits.maxAttributes) {
      throw new AttributeLimitError(
        `a resource has ${resource.attributes.length} attributes, over max_attributes_per_point ${limits.maxAttributes}`,
      );
    }
    for (const { key, value } of resource.attributes) {
      const size = anyValueSize(value);
      if (size > limits.maxValueBytes) {
        throw new AttributeLimitError(
          `resource attribute "${key}" has a value of ${size} bytes, over max_attribute_value_bytes ${limits.maxValueBytes}`,
        );
      }
    }
  }
}
