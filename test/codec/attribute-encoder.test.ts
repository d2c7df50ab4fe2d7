import type { Attributes } from '@opentelemetry/api';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AttributeEncoder } from '../../src/codec/sdk/attribute-encoder.js';
import { toKeyValues } from '../../src/model/any-value.js';
import { encodeKeyValues } from '../../src/model/key-value-bytes.js';

const scalar = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.constantFrom(2 ** 63, -(2 ** 63), 2 ** 53 + 2, -0, Number.MAX_SAFE_INTEGER, 1e300),
);
const attributeValue = fc.oneof(
  scalar,
  fc.array(fc.oneof(scalar, fc.constant(null))),
  fc.constant(undefined),
  fc.constant(null),
);
const record = fc.dictionary(fc.string(), attributeValue, { maxKeys: 8 });

/** The bytes `write` put in the encoder's slab for `attributes`. */
function encode(encoder: AttributeEncoder, attributes: Attributes): Uint8Array {
  const start = encoder.write(attributes);
  const slab = encoder.slabView;
  return new Uint8Array(slab.buffer, slab.byteOffset + start, encoder.end - start);
}

describe('AttributeEncoder', () => {
  it('writes the same bytes as the general KeyValue encoder, for any SDK attributes', () => {
    const encoder = new AttributeEncoder();
    fc.assert(
      fc.property(record, (attributes) => {
        const direct = encode(encoder, attributes as never);
        const general = encodeKeyValues(toKeyValues(attributes as never));
        expect(Buffer.from(direct).equals(Buffer.from(general))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps earlier results intact when it moves to a new slab', () => {
    const encoder = new AttributeEncoder();
    const first = encode(encoder, { big: 'x'.repeat(40_000) });
    const copy = Buffer.from(first);
    for (let k = 0; k < 10; k++) encode(encoder, { k, filler: 'y'.repeat(10_000) });
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });
});
