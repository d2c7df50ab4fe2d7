import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/collector/config/load-config.js';
import { QueueFullError } from '../../src/delivery/errors.js';
import {
  type Consumer,
  encodeFlatJsonLines,
  MetricBatch,
  MetricType,
  Temporality,
} from '../../src/index.js';
import {
  AttributesProcessor,
  applyActions,
} from '../../src/processors/attributes/attributes-processor.js';
import { BatchProcessor } from '../../src/processors/batch/batch-processor.js';
import { filterConfig } from '../../src/processors/filter/config.js';
import { FilterProcessor } from '../../src/processors/filter/filter-processor.js';
import { memoryLimiterConfig } from '../../src/processors/memorylimiter/config.js';
import { MemoryLimiterProcessor } from '../../src/processors/memorylimiter/memory-limiter-processor.js';

const settings = { id: 'p', logger: pino({ level: 'silent' }) };

class Capture implements Consumer {
  readonly batches: MetricBatch[] = [];
  async consume(batch: MetricBatch): Promise<void> {
    this.batches.push(batch);
  }
  lines(): Record<string, unknown>[] {
    return this.batches.flatMap((b) =>
      encodeFlatJsonLines(b)
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  }
}

function sample(): MetricBatch {
  const batch = new MetricBatch();
  const r = batch.addResource({ attributes: { 'service.name': 'api', env: 'prod' } });
  const s = batch.addScope(r, { name: 'lib' });
  const requests = batch.addMetric(s, {
    name: 'http.server.requests',
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
  });
  const internal = batch.addMetric(s, { name: 'internal.debug', type: MetricType.Gauge });
  batch.addNumberPoint(batch.series(requests, { route: '/a', user: 'alice' }), {
    time: 1n,
    value: 1,
  });
  batch.addNumberPoint(batch.series(requests, { route: '/health', user: 'bob' }), {
    time: 1n,
    value: 2,
  });
  batch.addNumberPoint(batch.series(internal, { route: '/a' }), { time: 1n, value: 3 });
  return batch;
}

describe('filter processor', () => {
  it('keeps include matches and drops exclude matches, by name (strict, regexp) and attribute', async () => {
    const out = new Capture();
    const config = filterConfig.parse({
      metrics: {
        include: { match_type: 'regexp', metric_names: ['^http\\.'] },
        exclude: {
          match_type: 'strict',
          metric_names: ['http.server.requests'],
          attributes: [{ key: 'route', value: '/health' }],
        },
      },
    });
    const processor = new FilterProcessor(settings, config, out);
    await processor.consume(sample());
    expect(out.lines().map((l) => [l.name, (l.attributes as { route: string }).route])).toEqual([
      ['http.server.requests', '/a'],
    ]);
    expect(processor.dropped).toEqual({ filtered: 2 });
  });

  it('passes a batch through untouched when everything matches, and drops a batch filtered empty', async () => {
    const out = new Capture();
    const processor = new FilterProcessor(
      settings,
      filterConfig.parse({ metrics: { exclude: { metric_names: ['nothing'] } } }),
      out,
    );
    const batch = sample();
    await processor.consume(batch);
    expect(out.batches[0]).toBe(batch);
    const dropAll = new FilterProcessor(
      settings,
      filterConfig.parse({ metrics: { include: { metric_names: ['none'] } } }),
      out,
    );
    await dropAll.consume(sample());
    expect(out.batches).toHaveLength(1);
  });

  it('filters by resource attribute', async () => {
    const out = new Capture();
    const processor = new FilterProcessor(
      settings,
      filterConfig.parse({
        metrics: { exclude: { resource_attributes: [{ key: 'env', value: 'prod' }] } },
      }),
      out,
    );
    await processor.consume(sample());
    expect(out.batches).toHaveLength(0);
  });

  it('refuses an invalid regular expression at validation, naming the key', () => {
    const yaml = `receivers: {otlp: {protocols: {http: null}}}
processors: {filter: {metrics: {include: {match_type: regexp, metric_names: ["(unclosed"]}}}}
exporters: {debug: null}
service: {pipelines: {metrics: {receivers: [otlp], processors: [filter], exporters: [debug]}}}`;
    expect(() => parseConfig(yaml)).toThrow(ConfigError);
    try {
      parseConfig(yaml);
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatch(
        /^processors\.filter\.metrics\.include\.metric_names\.0: not a regular expression/,
      );
    }
  });
});

describe('attributes and resource processors', () => {
  it('insert, update, upsert, delete and hash, in order', () => {
    const values = applyActions(
      [
        { key: 'route', value: '/a' },
        { key: 'user', value: 'alice' },
      ],
      [
        { key: 'team', action: 'insert', value: 'core' },
        { key: 'route', action: 'insert', value: 'ignored' },
        { key: 'missing', action: 'update', value: 'x' },
        { key: 'route', action: 'update', value: '/b' },
        { key: 'copy', action: 'upsert', from_attribute: 'route' },
        { key: 'user', action: 'hash' },
        { key: 'team', action: 'delete' },
      ],
    );
    expect(values).toEqual([
      { key: 'route', value: '/b' },
      { key: 'user', value: '2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90' },
      { key: 'copy', value: '/b' },
    ]);
  });

  it('rewrites point attributes (merging series that become equal) or resource attributes', async () => {
    const out = new Capture();
    await new AttributesProcessor(
      settings,
      { actions: [{ key: 'user', action: 'delete' }] },
      out,
      'point',
    ).consume(sample());
    const lines = out.lines();
    expect(lines.map((l) => l.attributes)).toEqual([
      { route: '/a' },
      { route: '/health' },
      { route: '/a' },
    ]);
    const resourceOut = new Capture();
    await new AttributesProcessor(
      settings,
      { actions: [{ key: 'env', action: 'upsert', value: 'staging' }] },
      resourceOut,
      'resource',
    ).consume(sample());
    expect(resourceOut.lines()[0].resource).toEqual({ 'service.name': 'api', env: 'staging' });
  });
});

describe('batch processor', () => {
  it('merges small batches up to send_batch_size and flushes the rest on timeout and shutdown', async () => {
    const out = new Capture();
    const processor = new BatchProcessor(
      settings,
      { send_batch_size: 6, send_batch_max_size: 0, timeout: 50 },
      out,
    );
    await processor.consume(sample());
    await processor.consume(sample());
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(out.batches.map((b) => b.pointCount)).toEqual([6]);
    await processor.consume(sample());
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(out.batches.map((b) => b.pointCount)).toEqual([6, 3]);
    await processor.consume(sample());
    await processor.shutdown();
    expect(out.batches.map((b) => b.pointCount)).toEqual([6, 3, 3]);
  });

  it('splits to send_batch_max_size', async () => {
    const out = new Capture();
    const processor = new BatchProcessor(
      settings,
      { send_batch_size: 4, send_batch_max_size: 4, timeout: 1000 },
      out,
    );
    for (let k = 0; k < 3; k++) await processor.consume(sample());
    await processor.shutdown();
    expect(out.batches.map((b) => b.pointCount)).toEqual([4, 4, 1]);
  });
});

describe('batch processor before a durable exporter', () => {
  const durable = { ...settings, durableDownstream: true };

  it('acknowledges only once the flush carrying the points was accepted downstream', async () => {
    let accept: () => void = () => {};
    const accepted: MetricBatch[] = [];
    const processor = new BatchProcessor(
      durable,
      { send_batch_size: 6, send_batch_max_size: 0, timeout: 1000 },
      {
        consume: (batch) =>
          new Promise<void>((resolve) => {
            accept = () => {
              accepted.push(batch);
              resolve();
            };
          }),
      },
    );
    let settled = 0;
    const first = processor.consume(sample()).then(() => settled++);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(0); // buffered, not yet flushed: not acknowledged
    const second = processor.consume(sample()).then(() => settled++); // fills 6: flushes
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(0); // flushed, but the exporter has not accepted yet
    accept();
    await Promise.all([first, second]);
    expect(settled).toBe(2);
    expect(accepted.map((b) => b.pointCount)).toEqual([6]);
  });

  it('hands a refusal at the flush back to every caller in it, counting no drop', async () => {
    const processor = new BatchProcessor(
      durable,
      { send_batch_size: 6, send_batch_max_size: 0, timeout: 1000 },
      {
        consume: async () => {
          throw new QueueFullError('persistent queue full');
        },
      },
    );
    const results = await Promise.allSettled([
      processor.consume(sample()),
      processor.consume(sample()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(processor.dropped).toEqual({});
  });

  it('keeps callers waiting for a remainder that stays buffered', async () => {
    const out = new Capture();
    const processor = new BatchProcessor(
      durable,
      { send_batch_size: 4, send_batch_max_size: 4, timeout: 50 },
      out,
    );
    let settled = 0;
    const calls = [0, 1, 2].map(() => processor.consume(sample()).then(() => settled++));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(out.batches.map((b) => b.pointCount)).toEqual([4, 4]);
    expect(settled).toBe(0); // one point of the last call is still buffered
    await Promise.all(calls);
    expect(out.batches.map((b) => b.pointCount)).toEqual([4, 4, 1]);
  });
});

describe('memory_limiter processor', () => {
  it('refuses data above the soft limit and accepts again below it, with a retryable error', async () => {
    const out = new Capture();
    let rss = 100 * 1024 * 1024;
    const limiter = new MemoryLimiterProcessor(
      settings,
      memoryLimiterConfig.parse({ limit_mib: 200, spike_limit_mib: 50 }),
      out,
      () => rss,
    );
    await limiter.start();
    await limiter.consume(sample());
    rss = 160 * 1024 * 1024; // over the 150 MiB soft limit
    limiter.check();
    await expect(limiter.consume(sample())).rejects.toMatchObject({
      code: 'SLUICE_ERR_MEMORY_LIMIT',
    });
    expect(limiter.refused).toBe(3);
    rss = 120 * 1024 * 1024;
    limiter.check();
    await limiter.consume(sample());
    expect(out.batches).toHaveLength(2);
    await limiter.shutdown();
  });

  it("passes the next processor's fast path through only under the soft limit", async () => {
    let rss = 100 * 1024 * 1024;
    const bodies: Uint8Array[] = [];
    const next = {
      consume: async () => {},
      consumeOtlpProtobuf: (body: Uint8Array) => {
        bodies.push(body);
        return 7;
      },
    };
    const limiter = new MemoryLimiterProcessor(
      settings,
      memoryLimiterConfig.parse({ limit_mib: 200, spike_limit_mib: 50 }),
      next,
      () => rss,
    );
    await limiter.start();
    const body = new Uint8Array([1, 2, 3]);
    expect(limiter.consumeOtlpProtobuf(body)).toBe(7);
    rss = 160 * 1024 * 1024;
    limiter.check();
    expect(limiter.consumeOtlpProtobuf(body)).toBe(-1);
    expect(bodies).toEqual([body]);
    await limiter.shutdown();
  });

  it('needs limit_mib and a spike below it', () => {
    expect(memoryLimiterConfig.safeParse({}).success).toBe(false);
    expect(memoryLimiterConfig.safeParse({ limit_mib: 100, spike_limit_mib: 100 }).success).toBe(
      false,
    );
    expect(memoryLimiterConfig.safeParse({ limit_mib: 100, check_interval: '1s' }).success).toBe(
      true,
    );
  });
});
