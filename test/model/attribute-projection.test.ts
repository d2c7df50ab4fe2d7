import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toKeyValues } from '../../src/model/any-value.js';
import { AttributeProjection } from '../../src/model/attribute-projection.js';
import { encodeKeyValues } from '../../src/model/key-value-bytes.js';

const keys = fc.constantFrom('host', 'route', 'é.key', '', 'status', 'h');
const record = fc.dictionary(
  keys,
  fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 })),
  { maxKeys: 5 },
);

describe('AttributeProjection', () => {
  it('equals encoding the filtered key-values, for keep and drop lists (property)', () => {
    fc.assert(
      fc.property(
        record,
        fc.array(keys, { maxLength: 3 }),
        fc.boolean(),
        (attributes, listed, keep) => {
          const values = toKeyValues(attributes);
          const projected = new AttributeProjection(listed, keep).project(encodeKeyValues(values));
          const expected = encodeKeyValues(
            values.filter((kv) => (listed as string[]).includes(kv.key) === keep),
          );
          expect(Buffer.from(projected).equals(Buffer.from(expected))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
