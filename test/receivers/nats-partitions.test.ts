import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { natsReceiverConfig } from '../../src/receivers/nats/config.js';
import { shareOf } from '../../src/receivers/nats/partition-leases.js';

describe('nats receiver partitions', () => {
  it('shares partitions evenly among any members, every partition to someone (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 64 }),
        (members, partitions) => {
          const shares = members.map((m) => shareOf(members, m, partitions));
          expect(shares.reduce((a, b) => a + b, 0)).toBe(partitions);
          expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
          // The same whatever order a member lists the group in.
          const reversed = [...members].reverse();
          expect(members.map((m) => shareOf(reversed, m, partitions))).toEqual(shares);
        },
      ),
    );
  });

  it('refuses partitions that do not exist and a filter_subject beside partitions', () => {
    const base = { url: 'nats://127.0.0.1:4222' };
    const outOfRange = natsReceiverConfig.safeParse({
      ...base,
      partitions: { count: 4, assign: [1, 4] },
    });
    expect(outOfRange.error?.issues[0]).toMatchObject({
      path: ['partitions', 'assign'],
      message: 'every assigned partition must be below count',
    });
    const both = natsReceiverConfig.safeParse({
      ...base,
      filter_subject: 'sluice.metrics.1',
      partitions: { count: 4 },
    });
    expect(both.error?.issues[0].message).toContain('exclude each other');
    expect(natsReceiverConfig.parse({ ...base, partitions: { count: 8 } }).partitions).toEqual({
      count: 8,
      subject: 'sluice.metrics',
      assign: 'auto',
      lease: 5_000,
      replicas: 1,
      move_state: true,
    });
  });
});
