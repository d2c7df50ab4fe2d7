import { describe, expect, it } from 'vitest';
import { RepeatedTimeText } from '../../src/exporters/helper/time-text.js';
import { Words64 } from '../../src/model/words64.js';

describe('RepeatedTimeText', () => {
  it('formats a time once while points repeat it, and again when it changes', () => {
    const column = new Words64(4);
    column.u64.set([1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n, 5n, 2n ** 63n]);
    let calls = 0;
    const text = new RepeatedTimeText((nanos) => {
      calls++;
      return `t=${nanos}`;
    });
    expect([0, 1, 2, 3, 3].map((i) => text.of(column, i))).toEqual([
      't=1700000000123456789',
      't=1700000000123456789',
      't=5',
      't=9223372036854775808',
      't=9223372036854775808',
    ]);
    expect(calls).toBe(3);
  });
});
