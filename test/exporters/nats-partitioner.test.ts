import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { natsExporterConfig } from '../../src/exporters/nats/config.js';
import { type PartitionBy, Partitioner } from '../../src/exporters/nats/partitioner.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';

type Row = { name: string; attributes: Record<string, string> };

/** One cumulative sum point per row, in one batch. */
function batchOf(rows: Row[]): MetricBatch {
  const batch = new MetricBatch();
  const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }));
  const metrics = new Map<string, number>();
  for (const { name, attributes } of rows) {
    let m = metrics.get(name);
    if (m === undefined) {
      m = batch.addMetric(scope, {
        name,
        type: MetricType.Sum,
        temporality: Temporality.Cumulative,
        monotonic: true,
      });
      metrics.set(name, m);
    }
    batch.addNumberPoint(batch.series(m, attributes), { startTime: 1n, time: 2n, value: 1 });
  }
  return batch;
}

const partitionsOf = (rows: Row[], partitions: number, by: PartitionBy) => [
  ...new Partitioner(partitions, by).assign(batchOf(rows)),
];

const row = fc.record({
  name: fc.constantFrom('http.requests', 'http.duration', 'db.calls'),
  route: fc.constantFrom('/a', '/b', '/c', '/items/1', '/items/2'),
  method: fc.constantFrom('GET', 'POST'),
  host: fc.constantFrom('h1', 'h2', 'h3', 'h4'),
  // Senders list attributes in their own order.
  reversed: fc.boolean(),
});

function attributesOf(r: { route: string; method: string; host: string; reversed: boolean }) {
  const entries: [string, string][] = [
    ['host', r.host],
    ['http.route', r.route],
    ['http.method', r.method],
  ];
  return Object.fromEntries(r.reversed ? entries.reverse() : entries);
}

describe('nats exporter partitioner', () => {
  it('sends every input of one aggregated output to one partition, in any batch and order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(row, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 16 }),
        (rs, n) => {
          const rows = rs.map((r) => ({ name: r.name, attributes: attributesOf(r) }));
          // One batch with every row, and each row alone: as different gateways would see them.
          const together = partitionsOf(rows, n, { attributes: ['http.route', 'http.method'] });
          const seen = new Map<string, number>();
          rs.forEach((r, i) => {
            const alone = partitionsOf([rows[i]], n, { attributes: ['http.method', 'http.route'] });
            expect(alone[0]).toBe(together[i]);
            const output = `${r.name} ${r.route} ${r.method}`;
            expect(seen.get(output) ?? together[i]).toBe(together[i]);
            seen.set(output, together[i]);
            expect(together[i]).toBeLessThan(n);
          });
        },
      ),
    );
  });

  it('puts every series of a metric in one partition with partition_by metric', () => {
    const rows = Array.from({ length: 200 }, (_, k) => ({
      name: `metric.${k % 7}`,
      attributes: { route: `/r/${k}` },
    }));
    const partitions = partitionsOf(rows, 5, 'metric');
    for (let k = 0; k < rows.length; k++) expect(partitions[k]).toBe(partitions[k % 7]);
  });

  it('spreads series over every partition', () => {
    const rows = Array.from({ length: 1000 }, (_, k) => ({
      name: 'http.requests',
      attributes: { 'http.route': `/items/${k}`, host: `h${k % 3}` },
    }));
    for (const by of ['series', { attributes: ['http.route'] }] as PartitionBy[]) {
      const counts = new Array(8).fill(0);
      for (const p of partitionsOf(rows, 8, by)) counts[p]++;
      // 125 each on average; a fixed hash of these rows, far from the bound either way.
      for (const c of counts) expect(c).toBeGreaterThan(60);
    }
  });

  it('keeps the partition of a series from one version to the next', () => {
    // Gateways of different versions share a stream during an upgrade: these values are the
    // contract. A change to the hashes shows here, and needs a migration note.
    const rows: Row[] = [
      { name: 'http.requests', attributes: { 'http.route': '/a', 'http.method': 'GET' } },
      { name: 'http.requests', attributes: { 'http.route': '/b', host: 'h1' } },
      { name: 'db.calls', attributes: { 'db.system': 'postgresql' } },
    ];
    expect(partitionsOf(rows, 1024, 'series')).toEqual([22, 171, 588]);
    expect(partitionsOf(rows, 1024, 'metric')).toEqual([175, 175, 508]);
    expect(partitionsOf(rows, 1024, { attributes: ['http.route'] })).toEqual([820, 84, 948]);
  });

  it('refuses partition_by without partitions, saying what to set', () => {
    const result = natsExporterConfig.safeParse({
      url: 'nats://127.0.0.1:4222',
      partition_by: 'metric',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]).toMatchObject({
      path: ['partition_by'],
      message: expect.stringContaining('set partitions'),
    });
    expect(
      natsExporterConfig.parse({
        url: 'nats://127.0.0.1:4222',
        partitions: 4,
        partition_by: { attributes: ['http.route'] },
      }).partition_by,
    ).toEqual({ attributes: ['http.route'] });
  });
});
