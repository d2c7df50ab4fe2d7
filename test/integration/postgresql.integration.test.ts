import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AggregationType } from '@opentelemetry/sdk-metrics';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import { PermanentError, RetryableError } from '../../src/delivery/errors.js';
import { postgresqlExporterFactory } from '../../src/exporters/postgresql/factory.js';
import { PostgresSender } from '../../src/exporters/postgresql/postgres-sender.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import {
  configured,
  otlpHttpUrl,
  otlpInto,
  queuedExporter,
  recordWithSdk,
} from '../helpers/collectors.js';
import { type RunningService, startService } from '../helpers/services.js';

/** `points` delta sums of `jobs`: point k of worker `w<k % workers>`, value k, 1 ns apart. */
function jobsBatch(points: number, workers: number): MetricBatch {
  const batch = new MetricBatch();
  const m = batch.addMetric(batch.addScope(batch.addResource()), {
    name: 'jobs',
    type: MetricType.Sum,
    temporality: Temporality.Delta,
    monotonic: true,
  });
  for (let k = 0; k < points; k++) {
    batch.addNumberPoint(batch.series(m, { worker: `w${k % workers}` }), {
      startTime: 1n,
      time: 1_700_000_000_000_000_000n + BigInt(k),
      value: k,
    });
  }
  return batch;
}

describe('postgresql exporter → a real PostgreSQL', () => {
  let server: RunningService;
  let collector: Collector;
  let db: pg.Client;
  let endpoint: string;

  beforeAll(async () => {
    server = await startService('postgresql');
    endpoint = `postgres://postgres@${server.address}/postgres`;
    db = new pg.Client({ connectionString: endpoint });
    await db.connect();
    collector = await otlpInto(
      'postgresql',
      `    endpoint: ${endpoint}
    schema: telemetry
    batch: { flush_interval: 10ms }`,
    );
    // One collection: shutdown collects and exports once.
    await recordWithSdk(
      otlpHttpUrl(collector),
      { 'service.name': 'orders', 'host.name': "o'brien\t1" },
      (meter) => {
        meter.createCounter('orders.placed').add(17, { 'http.route': '/orders', note: 'a\\b\nc' });
        const latency = meter.createHistogram('orders.latency', {
          unit: 'ms',
          advice: { explicitBucketBoundaries: [10, 100] },
        });
        for (const ms of [5, 50, 70, 500]) latency.record(ms);
        const size = meter.createHistogram('payload.size', { unit: 'By' });
        for (const bytes of [100, 200, 400, 800, 1600]) size.record(bytes);
        meter.createObservableGauge('orders.pending').addCallback((r) => r.observe(4.5));
      },
      {
        meterVersion: '3.1',
        views: [
          {
            instrumentName: 'payload.size',
            aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
          },
        ],
      },
    );
    await queuedExporter(collector, 'postgresql').engine.forceFlush();
  });

  afterAll(async () => {
    await collector?.shutdown(2_000);
    await db?.end();
    await server?.stop();
  });

  it('writes number points with their attributes and resource as jsonb', async () => {
    const { rows } = await db.query(
      `SELECT metric, type, temporality, monotonic, value, attributes, resource, scope, unit
       FROM telemetry.metric_points ORDER BY metric`,
    );
    expect(rows).toEqual([
      {
        metric: 'orders.pending',
        type: 'gauge',
        temporality: null,
        monotonic: null,
        value: 4.5,
        attributes: {},
        resource: expect.objectContaining({ 'service.name': 'orders', 'host.name': "o'brien\t1" }),
        scope: 'app@3.1',
        unit: '',
      },
      {
        metric: 'orders.placed',
        type: 'sum',
        temporality: 'cumulative',
        monotonic: true,
        value: 17,
        // Tabs, newlines and backslashes survive COPY's text format.
        attributes: { 'http.route': '/orders', note: 'a\\b\nc' },
        resource: expect.objectContaining({ 'service.name': 'orders' }),
        scope: 'app@3.1',
        unit: '',
      },
    ]);
  });

  it('writes histograms and exponential histograms with their buckets', async () => {
    const { rows } = await db.query(
      `SELECT metric, type, count, sum, min, max, bounds, bucket_counts, scale, zero_count,
              positive_counts, unit
       FROM telemetry.metric_histograms ORDER BY metric`,
    );
    expect(rows[0]).toMatchObject({
      metric: 'orders.latency',
      type: 'histogram',
      count: '4',
      sum: 625,
      min: 5,
      max: 500,
      bounds: [10, 100],
      bucket_counts: ['1', '2', '1'],
      unit: 'ms',
    });
    expect(rows[1]).toMatchObject({
      metric: 'payload.size',
      type: 'exponential_histogram',
      count: '5',
    });
    const positive = (rows[1].positive_counts as string[]).map(Number);
    expect(positive.reduce((a, b) => a + b, 0)).toBe(5);
    expect(typeof rows[1].scale).toBe('number');
  });

  it('keeps exact times and indexes time and metric name', async () => {
    const { rows } = await db.query(
      `SELECT time_unix_nano, (extract(epoch from time) * 1e6)::bigint AS micros
       FROM telemetry.metric_points`,
    );
    for (const row of rows) expect(BigInt(row.micros)).toBe(BigInt(row.time_unix_nano) / 1000n);
    const { rows: indexes } = await db.query(
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'telemetry' ORDER BY indexname`,
    );
    expect(indexes.map((r) => r.indexname)).toEqual([
      'metric_histograms_metric_time',
      'metric_histograms_pkey',
      'metric_points_metric_time',
      'metric_points_pkey',
    ]);
  });

  /** A sender writing to tables `p` and `h` of `schema`, created as needed. */
  const senderInto = (schema: string, statementTimeoutMs = 5_000) =>
    new PostgresSender({
      endpoint,
      tables: { schema, points: 'p', histograms: 'h' },
      createTables: true,
      poolSize: 2,
      statementTimeoutMs,
    });

  it('survives its connections being killed mid-send: the send fails as retryable, the next one works', async () => {
    const sender = senderInto('killed', 30_000);
    const batchOf = (points: number) => jobsBatch(points, points);
    const signal = new AbortController().signal;
    await sender.send(batchOf(1), signal); // tables exist, a client is in the pool
    // A large COPY is under way when the server ends every sluice session: pg fails the
    // query *and* emits 'error' on the client, which without a listener kills the process.
    const sending = sender.send(batchOf(200_000), signal).then(
      () => undefined,
      (err: Error) => err,
    );
    const kill = async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const { rows } = await db.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
           WHERE application_name = 'sluice' AND state = 'active'`,
        );
        if (rows[0].n > 0) return rows[0].n;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return 0;
    };
    expect(await kill()).toBeGreaterThan(0);
    expect(await sending).toBeInstanceOf(RetryableError);
    await sender.send(batchOf(10), signal);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM killed.p');
    expect(rows[0].n).toBe(10);
    await sender.close();
  });

  it('adds nothing twice when a batch is sent again (a retry after a lost answer)', async () => {
    const sender = senderInto('retry');
    const batch = jobsBatch(50, 5);
    const signal = new AbortController().signal;
    await sender.send(batch, signal);
    await sender.send(batch, signal);
    const { rows } = await db.query('SELECT count(*)::int AS n, sum(value) AS total FROM retry.p');
    expect(rows[0]).toEqual({ n: 50, total: 1225 });
    await sender.close();
  });

  it('fails for good, with the SQLSTATE, when its table is missing and may not be created', async () => {
    const sender = new PostgresSender({
      endpoint,
      tables: { schema: 'public', points: 'no_such_table', histograms: 'h' },
      createTables: false,
      poolSize: 1,
      statementTimeoutMs: 5_000,
    });
    const batch = new MetricBatch();
    const g = batch.addMetric(batch.addScope(batch.addResource()), {
      name: 'g',
      type: MetricType.Gauge,
    });
    batch.addNumberPoint(batch.series(g, {}), { time: 5n, value: 1 });
    const sent = sender.send(batch, new AbortController().signal);
    await expect(sent).rejects.toBeInstanceOf(PermanentError);
    await expect(sent).rejects.toThrow(/no_such_table.*SQLSTATE 42P01/);
    await sender.close();
  });
});

describe('postgresql exporter over TLS', () => {
  let server: RunningService;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-pg-tls-'));
    // A self-signed certificate for 127.0.0.1, which the exporter then trusts as its CA.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    server = await startService('postgresql', {
      PG_SSL_CERT_FILE: join(dir, 'cert.pem'),
      PG_SSL_KEY_FILE: join(dir, 'key.pem'),
    });
  });

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies the server against ca_file and writes over an encrypted connection', async () => {
    const endpoint = `postgres://postgres@${server.address}/postgres`;
    const exporter = configured(postgresqlExporterFactory, {
      endpoint,
      tls: { ca_file: join(dir, 'cert.pem') },
      retry_on_failure: { enabled: false },
    })({ id: 'postgresql', logger: pino({ level: 'silent' }) });
    await exporter.start();
    const batch = new MetricBatch();
    const g = batch.addMetric(batch.addScope(batch.addResource()), {
      name: 'secure.gauge',
      type: MetricType.Gauge,
    });
    batch.addNumberPoint(batch.series(g, {}), { time: 1_700_000_000_000_000_000n, value: 42 });
    await exporter.consume(batch);
    await exporter.engine!.forceFlush();
    expect(exporter.engine!.stats.sent).toBe(1);
    const db = new pg.Client({ connectionString: endpoint });
    await db.connect();
    const { rows } = await db.query(
      `SELECT bool_and(s.ssl) AS ssl, count(*)::int AS n
       FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
       WHERE a.application_name = 'sluice'`,
    );
    const { rows: points } = await db.query('SELECT value FROM metric_points');
    await db.end();
    await exporter.shutdown({ deadlineMs: 2_000 });
    expect(rows[0].n).toBeGreaterThan(0);
    expect(rows[0].ssl).toBe(true);
    expect(points).toEqual([{ value: 42 }]);
  });
});

describe('postgresql exporter when the server restarts', () => {
  let server: RunningService;
  beforeAll(async () => {
    server = await startService('postgresql');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('retries through the outage and writes every point exactly once', async () => {
    const endpoint = `postgres://postgres@${server.address}/postgres`;
    const exporter = configured(postgresqlExporterFactory, {
      endpoint,
      batch: { max_points: 100, flush_interval: '10ms' },
      retry_on_failure: { initial_interval: '100ms', max_interval: '500ms' },
      circuit_breaker: { enabled: false },
    })({ id: 'postgresql', logger: pino({ level: 'silent' }) });
    await exporter.start();
    const batchOf = (first: number) => {
      const batch = new MetricBatch();
      const m = batch.addMetric(batch.addScope(batch.addResource()), {
        name: 'orders',
        type: MetricType.Sum,
        temporality: Temporality.Delta,
        monotonic: true,
      });
      for (let k = first; k < first + 100; k++) {
        batch.addNumberPoint(batch.series(m, { shard: `s${k % 10}` }), {
          startTime: 1n,
          time: 1_700_000_000_000_000_000n + BigInt(k),
          value: 1,
        });
      }
      return batch;
    };
    for (let k = 0; k < 5; k++) await exporter.consume(batchOf(k * 100));
    const restarting = server.restart();
    for (let k = 5; k < 10; k++) await exporter.consume(batchOf(k * 100));
    await restarting;
    for (let k = 10; k < 15; k++) await exporter.consume(batchOf(k * 100));
    await exporter.engine!.forceFlush();
    const stats = exporter.engine!.stats;
    await exporter.shutdown({ deadlineMs: 2_000 });
    expect(stats.sent).toBe(1_500);
    const db = new pg.Client({ connectionString: endpoint });
    await db.connect();
    const { rows } = await db.query(
      'SELECT count(*)::int AS n, count(DISTINCT time_unix_nano)::int AS distinct_times FROM metric_points',
    );
    await db.end();
    expect(rows[0]).toEqual({ n: 1_500, distinct_times: 1_500 });
  });
});
