import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMetricsRequest,
  encodeMetricsRequest,
  MetricBatch,
  type MetricBatchState,
  transferList,
} from '../../src/index.js';
import { metricsRequest } from '../helpers/arbitraries.js';
import { refEncode } from '../helpers/reference.js';

/** Sends a batch's state through a real MessagePort, moving its columns. */
async function throughPort(batch: MetricBatch): Promise<MetricBatch> {
  const { port1, port2 } = new MessageChannel();
  const received = new Promise<MetricBatchState>((resolve) =>
    port2.once('message', (state) => resolve(state)),
  );
  const state = batch.exportState();
  port1.postMessage(state, transferList(state));
  const copy = MetricBatch.fromState(await received);
  port1.close();
  return copy;
}

describe('MetricBatch state across threads', () => {
  it('a batch rebuilt from its transferred state encodes to the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(metricsRequest, async (request) => {
        const batch = decodeMetricsRequest(refEncode(request));
        const before = Buffer.from(encodeMetricsRequest(batch));
        const rebuilt = await throughPort(batch);
        expect(Buffer.from(encodeMetricsRequest(rebuilt)).equals(before)).toBe(true);
        expect(rebuilt.pointCount).toBe(decodeMetricsRequest(before).pointCount);
      }),
      { numRuns: 150 },
    );
  });

  it('moves the columns instead of copying them, and the rebuilt batch keeps growing', async () => {
    const batch = new MetricBatch();
    const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'a' } }));
    const sum = batch.addMetric(scope, { name: 's', type: 2, temporality: 2, monotonic: true });
    for (let i = 0; i < 100; i++)
      batch.addNumberPoint(batch.series(sum, { k: i }), { time: 1n, value: i });
    const rebuilt = await throughPort(batch);
    // Transferred: the sender's views are detached.
    expect(batch.points.series.length).toBe(0);
    // The rebuilt batch interns and appends like any other, past its old capacity.
    for (let i = 0; i < 1000; i++) {
      rebuilt.addNumberPoint(rebuilt.series(sum, { k: i }), { time: 2n, value: i });
    }
    expect(rebuilt.pointCount).toBe(1100);
    expect(rebuilt.seriesCount).toBe(1000);
    expect(rebuilt.series(sum, { k: 5 })).toBe(rebuilt.series(sum, { k: 5 }));
  });
});
