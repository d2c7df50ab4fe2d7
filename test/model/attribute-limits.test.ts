import { describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import { AttributeLimitError, checkAttributeLimits } from '../../src/model/attribute-limits.js';
import { counterBatch } from '../helpers/batches.js';

const limits = { maxAttributes: 2, maxValueBytes: 8 };

describe('checkAttributeLimits', () => {
  it('names the attribute over the value limit and the count over the attribute limit', () => {
    const long = counterBatch(1).batch;
    long.addNumberPoint(long.series(0, { k: 'a value of 20 bytes.' }), { time: 2n, value: 1 });
    expect(() => checkAttributeLimits(long, limits)).toThrow(
      /point attribute "k" has a value of 22 bytes, over max_attribute_value_bytes 8/,
    );
    const wide = counterBatch(1).batch;
    wide.addNumberPoint(wide.series(0, { a: '1', b: '2', c: '3' }), { time: 2n, value: 1 });
    expect(() => checkAttributeLimits(wide, limits)).toThrow(AttributeLimitError);
  });

  it('skips a field of a KeyValue it does not know, as the decoder does (found by fuzzing)', () => {
    // A gauge point whose attribute KeyValue { 1: "id", 2: { 1: "x" } } also holds field 3
    // (varint 1): valid protobuf, an unknown field the decoder keeps in the stored set.
    const attribute = field(0x3a, [
      ...field(0x0a, [...Buffer.from('id')]),
      ...field(0x12, field(0x0a, [...Buffer.from('x')])),
      0x18,
      0x01,
    ]);
    const point = [0x19, 7, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, ...attribute];
    const metric = [...field(0x0a, [...Buffer.from('g')]), ...field(0x2a, field(0x0a, point))];
    const body = field(0x0a, field(0x12, field(0x12, metric)));
    const batch = decodeMetricsRequest(Uint8Array.from(body));
    expect(batch.pointCount).toBe(1);
    expect(() =>
      checkAttributeLimits(batch, { maxAttributes: 4, maxValueBytes: 64 }),
    ).not.toThrow();
  });
});

/** A length-delimited field: `tag`, then `body`'s length (under 128 here) and `body`. */
function field(tag: number, body: number[]): number[] {
  return [tag, body.length, ...body];
}
