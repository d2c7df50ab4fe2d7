import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import type { Collector } from '../../src/collector/collector.js';
import type { QueuedExporter } from '../../src/exporters/helper/queued-exporter.js';
import { NatsSender } from '../../src/exporters/nats/nats-sender.js';
import { Partitioner } from '../../src/exporters/nats/partitioner.js';
import { MetricBatch, MetricType, Temporality } from '../../src/index.js';
import type { NatsReceiver } from '../../src/receivers/nats/nats-receiver.js';
import { counterBatch, monotonicSums } from '../helpers/batches.js';
import { startCollector } from '../helpers/collectors.js';
import { CollectorProcess, freePort, waitUntil } from '../helpers/faults.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { type RunningService, startService } from '../helpers/services.js';

describe('nats exporter and receiver through a real nats-server with JetStream', () => {
  let server: RunningService;
  let producer: Collector;
  let consumer: Collector;
  let sink: OtlpSink;

  beforeAll(async () => {
    server = await startService('nats-server');
    const url = `nats://${server.address}`;
    sink = new OtlpSink();
    await sink.start();
    producer = await startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  nats:
    url: ${url}
    stream: METRICS
    subject: metrics.otlp
    partitions: 4
    batch: { max_points: 200, flush_interval: 10ms }
    retry_on_failure: { initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 60s }
    circuit_breaker: { enabled: false }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [nats] }
`);
    consumer = await startCollector(`
receivers:
  nats:
    url: ${url}
    stream: METRICS
    consumer: sluice-test
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
service:
  pipelines:
    metrics: { receivers: [nats], exporters: [otlphttp] }
`);
  });

  afterAll(async () => {
    await producer?.shutdown(2_000);
    await consumer?.shutdown(2_000);
    await sink?.stop();
    await server?.stop();
  });

  async function waitFor(ids: string[], timeoutMs = 30_000): Promise<string[]> {
    const until = Date.now() + timeoutMs;
    let missing = ids;
    while (Date.now() < until) {
      const delivered = sink.deliveredIds();
      missing = ids.filter((id) => !delivered.has(id));
      if (missing.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    return missing;
  }

  it('publishes to partition subjects and the durable consumer forwards every point', async () => {
    const exporter = producer.exporters.get('nats') as QueuedExporter;
    const { batch, ids } = counterBatch(1_000, 'nats.first');
    await exporter.consume(batch);
    await exporter.engine.forceFlush();
    expect(await waitFor(ids)).toEqual([]);
    // The stream holds the messages under the series-hash subjects.
    const nc = await connect({ servers: `nats://${server.address}` });
    const info = await (await nc.jetstreamManager()).streams.info('METRICS', {
      subjects_filter: '>',
    });
    await nc.close();
    const subjects = Object.keys(info.state.subjects ?? {}).sort();
    expect(subjects).toEqual([
      'metrics.otlp.0',
      'metrics.otlp.1',
      'metrics.otlp.2',
      'metrics.otlp.3',
    ]);
    const receiver = consumer.receivers.get('nats') as unknown as NatsReceiver;
    expect(receiver.stats.accepted).toBe(1_000);
    expect(consumer.ready).toBe(true);
  });

  it('stores a retried publish once (Nats-Msg-Id within the duplicate window)', async () => {
    const sender = new NatsSender({
      url: `nats://${server.address}`,
      stream: 'METRICS',
      subject: 'metrics.otlp',
      partitions: 0,
      createStream: true,
      duplicateWindowMs: 120_000,
    });
    const nc = await connect({ servers: `nats://${server.address}` });
    const jsm = await nc.jetstreamManager();
    const before = (await jsm.streams.info('METRICS')).state.messages;
    const { batch } = counterBatch(10, 'nats.dedup');
    const signal = new AbortController().signal;
    await sender.send(batch, signal);
    await sender.send(batch, signal); // as after a lost acknowledgement
    const after = (await jsm.streams.info('METRICS')).state.messages;
    await nc.close();
    await sender.close();
    expect(after - before).toBe(1);
  });

  it('loses nothing when the server restarts in the middle of the run', async () => {
    const exporter = producer.exporters.get('nats') as QueuedExporter;
    const all: string[] = [];
    const sendSome = async (n: number) => {
      const { batch, ids } = counterBatch(n, 'nats.restart');
      all.push(...ids);
      await exporter.consume(batch);
    };
    for (let k = 0; k < 5; k++) await sendSome(300);
    const restarting = server.restart();
    // Accepted while the server is away: queued and retried until it is back.
    for (let k = 0; k < 5; k++) {
      await sendSome(300);
      await new Promise((r) => setTimeout(r, 50));
    }
    await restarting;
    for (let k = 0; k < 5; k++) await sendSome(300);
    await exporter.engine.forceFlush();
    expect(exporter.engine.stats.accepted).toBeGreaterThanOrEqual(all.length);
    expect(await waitFor(all, 60_000)).toEqual([]);
    const dead = Object.values(exporter.engine.stats.deadLettered).reduce((a, b) => a + b, 0);
    expect(dead).toBe(0);
  });

  it('feeds an aggregate pipeline through its fast path (known series not decoded)', async () => {
    const aggSink = new OtlpSink();
    await aggSink.start();
    const aggregating = await startCollector(`
receivers:
  nats:
    url: nats://${server.address}
    stream: AGGREGATED
    consumer: sluice-aggregate
processors:
  aggregate:
    interval: 50ms
    rules: [{ metrics: [c], drop_attributes: [s] }]
exporters:
  otlphttp:
    metrics_endpoint: ${aggSink.url}
service:
  pipelines:
    metrics: { receivers: [nats], processors: [aggregate], exporters: [otlphttp] }
`);
    const sender = new NatsSender({
      url: `nats://${server.address}`,
      stream: 'AGGREGATED',
      subject: 'aggregated.otlp',
      partitions: 0,
      createStream: true,
      duplicateWindowMs: 120_000,
    });
    try {
      const signal = new AbortController().signal;
      // Two exports of the same cumulative series on two hosts: the second is all known.
      for (const [time, h1, h2] of [
        [10n, 1, 2],
        [20n, 5, 7],
      ] as const) {
        await sender.send(
          monotonicSums(Temporality.Cumulative, [
            { series: 'h1', start: 1n, time, value: h1 },
            { series: 'h2', start: 1n, time, value: h2 },
          ]),
          signal,
        );
      }
      const receiver = aggregating.receivers.get('nats') as unknown as NatsReceiver;
      const until = Date.now() + 20_000;
      let total: number | undefined;
      while (Date.now() < until) {
        const last = aggSink.accepted.at(-1)?.request.resourceMetrics[0].scopeMetrics[0].metrics[0];
        total = last?.sum.dataPoints[0].asDouble;
        if (total === 12 && receiver.stats.accepted === 4) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(total).toBe(12);
      expect(receiver.stats.requests).toBe(2);
      expect(receiver.stats.scanned).toBe(1);
    } finally {
      await sender.close();
      await aggregating.shutdown(2_000);
      await aggSink.stop();
    }
  });

  it('partitions by the attributes an aggregate keeps: every host of a route on one subject', async () => {
    const sender = new NatsSender({
      url: `nats://${server.address}`,
      stream: 'PARTITIONED',
      subject: 'partitioned.otlp',
      partitions: 4,
      partitionBy: { attributes: ['http.route'] },
      createStream: true,
      duplicateWindowMs: 120_000,
    });
    const signal = new AbortController().signal;
    try {
      // Two exports, as two gateways would send them: each with every route, 5 hosts each.
      for (const first of [0, 5]) {
        const batch = new MetricBatch();
        const scope = batch.addScope(batch.addResource({ attributes: { 'service.name': 'api' } }));
        const m = batch.addMetric(scope, {
          name: 'http.requests',
          type: MetricType.Sum,
          temporality: Temporality.Cumulative,
          monotonic: true,
        });
        for (let route = 0; route < 40; route++) {
          for (let host = first; host < first + 5; host++) {
            const attributes = { host: `h${host}`, 'http.route': `/r/${route}` };
            batch.addNumberPoint(batch.series(m, attributes), {
              startTime: 1n,
              time: 2n,
              value: 1,
            });
          }
        }
        await sender.send(batch, signal);
      }
      // Every message back from the stream, by its subject.
      const nc = await connect({ servers: `nats://${server.address}` });
      const jsm = await nc.jetstreamManager();
      const { state } = await jsm.streams.info('PARTITIONED');
      const subjectsOfRoute = new Map<string, Set<string>>();
      let points = 0;
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const message = await jsm.streams.getMessage('PARTITIONED', { seq });
        for (const p of decodeMetricsRequest(message.data).pointViews()) {
          points++;
          const route = String(p.attributes.find((a) => a.key === 'http.route')?.value);
          const subjects = subjectsOfRoute.get(route) ?? new Set();
          subjects.add(message.subject);
          subjectsOfRoute.set(route, subjects);
        }
      }
      await nc.close();
      expect(points).toBe(400);
      expect(subjectsOfRoute.size).toBe(40);
      for (const subjects of subjectsOfRoute.values()) expect(subjects.size).toBe(1);
      const used = new Set([...subjectsOfRoute.values()].flatMap((s) => [...s]));
      expect(used.size).toBe(4);
    } finally {
      await sender.close();
    }
  });

  it('acknowledges a message once its points were sent: kill -9 between accepting and sending loses nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-nats-ack-'));
    const backend = new OtlpSink();
    backend.reply = () => ({ status: 503 }); // down: the exporter keeps the points and retries
    await backend.start();
    const processes: CollectorProcess[] = [];
    const collector = async (name: string) => {
      const process = new CollectorProcess(dir, name, await freePort());
      processes.push(process);
      await process.start(`
receivers:
  nats:
    url: nats://${server.address}
    stream: METRICS
    consumer: acked-once-sent
    ack_wait: 2s
exporters:
  otlphttp:
    metrics_endpoint: ${backend.url}
    batch: { flush_interval: 10ms }
    retry_on_failure: { initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0s }
    circuit_breaker: { enabled: false }
service:
  telemetry: { metrics: { address: ${process.adminUrl.replace('http://', '')} } }
  pipelines:
    metrics: { receivers: [nats], exporters: [otlphttp] }
`);
      return process;
    };
    try {
      // Published first: the stream exists, and a new consumer starts from its beginning.
      const { batch, ids } = counterBatch(60, 'nats.acked');
      const exporter = producer.exporters.get('nats') as QueuedExporter;
      await exporter.consume(batch);
      await exporter.engine.forceFlush();
      const first = await collector('first');
      // Accepted (queued for a backend that refuses), not sent: killed there. The consumer
      // starts at the stream's beginning: what other tests published comes too.
      const accepted = () => first.metric('sluice_receiver_accepted_points_total');
      let seen = -1;
      await waitUntil(
        'the first collector to accept everything in the stream',
        async () => {
          const now = await accepted();
          const settled = now === seen && now >= ids.length;
          seen = now;
          return settled;
        },
        20_000,
        500,
      );
      expect(backend.deliveredIds().size).toBe(0);
      // Held past twice the ack wait while the backend is down: renewed, not handed out and
      // queued again.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      expect(await accepted()).toBe(seen);
      expect(backend.deliveredIds().size).toBe(0);
      await first.kill9();
      backend.reply = () => ({});
      await collector('second');
      // JetStream hands the unacknowledged messages out again after the ack wait.
      await waitUntil(
        'every point at the backend',
        () => ids.every((id) => backend.deliveredIds().has(id)),
        30_000,
      );
    } finally {
      await Promise.all(processes.map((p) => (p.alive ? p.stop() : undefined)));
      await backend.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  /** Clients connected under `name`, by the server's monitoring API (`/connz`). */
  async function serverConnections(name: string): Promise<number> {
    const port = (await readFile(join(server.stateDir, 'monitor_port'), 'utf8')).trim();
    const connz = (await (await fetch(`http://127.0.0.1:${port}/connz?limit=1024`)).json()) as {
      connections: { name?: string }[];
    };
    return connz.connections.filter((c) => c.name === name).length;
  }

  it('consumes only the partitions listed in partitions.assign', async () => {
    const evensSink = new OtlpSink();
    await evensSink.start();
    const evens = await startCollector(`
receivers:
  nats/evens:
    url: nats://${server.address}
    stream: METRICS
    consumer: evens
    partitions: { count: 4, subject: metrics.otlp, assign: [0, 2] }
exporters:
  otlphttp:
    metrics_endpoint: ${evensSink.url}
    batch: { flush_interval: 10ms }
service:
  pipelines:
    metrics: { receivers: [nats/evens], exporters: [otlphttp] }
`);
    try {
      const { batch, ids } = counterBatch(400, 'nats.assigned');
      // The producer's partitions (by series, its default) of each point, before it owns the batch.
      const partitionOf = new Partitioner(4, 'series').assign(batch);
      const exporter = producer.exporters.get('nats') as QueuedExporter;
      await exporter.consume(batch);
      await exporter.engine.forceFlush();
      const mine = ids.filter((_, i) => partitionOf[i] % 2 === 0);
      const others = ids.filter((_, i) => partitionOf[i] % 2 === 1);
      expect(mine.length).toBeGreaterThan(0);
      expect(others.length).toBeGreaterThan(0);
      const until = Date.now() + 30_000;
      while (Date.now() < until && !mine.every((id) => evensSink.deliveredIds().has(id))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every point of partitions 0 and 2 and, the other consumer's having arrived too, none of 1 and 3.
      expect(mine.filter((id) => !evensSink.deliveredIds().has(id))).toEqual([]);
      expect(await waitFor(others)).toEqual([]);
      expect(others.filter((id) => evensSink.deliveredIds().has(id))).toEqual([]);
      const receiver = evens.receivers.get('nats/evens') as unknown as NatsReceiver;
      expect(receiver.partitionsHeld).toEqual([0, 2]);
      // One connection for both partitions (the server's own count), none left after shutdown.
      expect(await serverConnections('sluice nats/evens')).toBe(1);
    } finally {
      await evens.shutdown(2_000);
      await evensSink.stop();
    }
    expect(await serverConnections('sluice nats/evens')).toBe(0);
  });
});
