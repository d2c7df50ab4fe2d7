import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FanOut } from '../../src/collector/fan-out.js';
import { QueueFullError } from '../../src/delivery/errors.js';
import type { Consumer } from '../../src/model/consumer.js';
import { counterBatch } from '../helpers/batches.js';

const logger = pino({ level: 'silent' });
const accepts = (into: number[]): Consumer => ({
  consume: async (batch) => {
    into.push(batch.pointCount);
  },
});
const refuses: Consumer = {
  consume: async () => {
    throw new QueueFullError('full');
  },
};

describe('FanOut', () => {
  it('accepts when one target refused and another took the batch', async () => {
    const taken: number[] = [];
    const fanOut = new FanOut(
      [
        { id: 'a', consumer: accepts(taken) },
        { id: 'b', consumer: refuses },
      ],
      logger,
    );
    await expect(fanOut.consume(counterBatch(3).batch)).resolves.toBeUndefined();
    expect(taken).toEqual([3]);
  });

  it('refuses when a durable target refused, though another took it', async () => {
    const taken: number[] = [];
    const fanOut = new FanOut(
      [
        { id: 'a', consumer: accepts(taken) },
        { id: 'stored', consumer: refuses, durable: true },
      ],
      logger,
    );
    await expect(fanOut.consume(counterBatch(3).batch)).rejects.toMatchObject({
      code: 'SLUICE_ERR_QUEUE_FULL',
    });
    expect(taken).toEqual([3]); // kept: the retry may bring it twice (at least once)
  });
});

describe('FanOut of encoded paths', () => {
  const relaying = (formats: ('otlp' | 'prometheus-remote-write')[], ordersBySeries: boolean) => ({
    consume: async () => {},
    encoded: { formats, ordersBySeries, consume: async () => {} },
  });

  it('carries the formats every target carries, and orders by series if any target does', () => {
    const mixed = new FanOut(
      [
        { id: 'scrape', consumer: relaying(['otlp'], false) },
        { id: 'queue', consumer: relaying(['otlp', 'prometheus-remote-write'], true) },
      ],
      logger,
    );
    expect(mixed.encoded?.formats).toEqual(['otlp']);
    expect(mixed.encoded?.ordersBySeries).toBe(true);
    const unordered = new FanOut(
      [
        { id: 'a', consumer: relaying(['otlp'], false) },
        { id: 'b', consumer: relaying(['otlp'], false) },
      ],
      logger,
    );
    expect(unordered.encoded?.ordersBySeries).toBe(false);
    const none = new FanOut(
      [
        { id: 'a', consumer: relaying(['otlp'], false) },
        { id: 'b', consumer: relaying(['prometheus-remote-write'], true) },
      ],
      logger,
    );
    expect(none.encoded).toBeUndefined();
  });
});
