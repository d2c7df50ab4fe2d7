import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorProcess, freePort, OfficialLoad, sleep, waitUntil } from '../helpers/faults.js';
import { partitionsHeld as held, NatsCluster } from '../helpers/nats-cluster.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

const PARTITIONS = 4;
const ROUTES = 6;
const HOSTS = 4;
const LAST_HOST_MS = 1_500;
/** What the aggregators (and the single collector they are compared with) do. */
const AGGREGATE = `
processors:
  aggregate:
    interval: 500ms
    rules: [{ metrics: ["tier.*"], group_by: [route] }]`;

/**
 * Counters and histograms from the official SDK, as `HOSTS` hosts of one service record them
 * (attributes `route` and `host`): each host's MeterProvider exports its cumulative totals
 * both to a gateway of the tier and to a single collector, the reference. The last host goes
 * away after `LAST_HOST_MS`: its totals stay in the outputs, so an aggregator that took a
 * partition over without its state would emit lower totals.
 */
class HostLoad {
  readonly #providers: MeterProvider[] = [];
  #timer: NodeJS.Timeout | undefined;
  #lastHostGone: Promise<void> | undefined;

  constructor(gateways: string[], reference: string) {
    const resource = resourceFromAttributes({ 'service.name': 'tier' });
    const reader = (url: string) =>
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url, timeoutMillis: 5_000 }),
        exportIntervalMillis: 250,
      });
    for (let h = 0; h < HOSTS; h++) {
      const provider = new MeterProvider({
        resource,
        readers: [reader(gateways[h % gateways.length]), reader(reference)],
      });
      this.#providers.push(provider);
    }
  }

  start(): void {
    const instruments = this.#providers.map((provider) => {
      const meter = provider.getMeter('tier');
      return {
        requests: meter.createCounter('tier.requests'),
        latency: meter.createHistogram('tier.latency', {
          advice: { explicitBucketBoundaries: [10, 50, 100, 500] },
        }),
      };
    });
    let step = 0;
    let hosts = HOSTS;
    setTimeout(() => {
      hosts = HOSTS - 1;
      const last = this.#providers[HOSTS - 1];
      this.#lastHostGone = last.forceFlush().then(() => last.shutdown());
    }, LAST_HOST_MS);
    this.#timer = setInterval(() => {
      step++;
      instruments.slice(0, hosts).forEach(({ requests, latency }, h) => {
        for (let r = 0; r < ROUTES; r++) {
          const attributes = { route: `/r${r}`, host: `h${h}` };
          requests.add(1 + ((step + h + r) % 3), attributes);
          latency.record(((step * 37 + h * 11 + r * 7) % 700) + 0.5, attributes);
        }
      });
    }, 50);
  }

  /** Stops recording and exports the final totals everywhere. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#lastHostGone;
    const staying = this.#providers.slice(0, HOSTS - 1);
    for (const provider of staying) await provider.forceFlush();
    for (const provider of staying) await provider.shutdown();
  }
}

/** An output point of `tier.*` as the sink got it: its series, times, and what it counts. */
interface OutputPoint {
  series: string;
  start: string;
  time: bigint;
  /** The sum's value, or the histogram's count, sum and bucket counts. */
  total: string;
  /** What must never go down: the sum, or the histogram's count. */
  level: number;
}

function tierOutputs(sink: OtlpSink): OutputPoint[] {
  const points: OutputPoint[] = [];
  for (const { request } of sink.accepted) {
    for (const rm of request.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          if (!m.name.startsWith('tier.')) continue;
          for (const dp of (m.sum ?? m.histogram).dataPoints) {
            const attributes = (dp.attributes ?? [])
              .map((a: any) => `${a.key}=${a.value.stringValue}`)
              .join(',');
            const histogram = m.histogram !== undefined;
            points.push({
              series: `${m.name}{${attributes}}`,
              start: String(dp.startTimeUnixNano),
              time: BigInt(dp.timeUnixNano),
              total: histogram
                ? `count ${dp.count} sum ${dp.sum} buckets ${(dp.bucketCounts ?? []).join(' ')}`
                : String(dp.asInt ?? dp.asDouble),
              level: Number(histogram ? dp.count : (dp.asInt ?? dp.asDouble)),
            });
          }
        }
      }
    }
  }
  return points;
}

/** Each output series' latest point (by time), as `series → total`. */
function finalTotals(points: OutputPoint[]): Map<string, string> {
  const latest = new Map<string, OutputPoint>();
  for (const point of points) {
    const known = latest.get(point.series);
    if (!known || point.time >= known.time) latest.set(point.series, point);
  }
  return new Map(
    [...latest]
      .map(([series, point]) => [series, point.total] as const)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/**
 * The tier of docs/scaling.md on a three-node JetStream cluster (stream, consumers and lease
 * bucket with three replicas): two gateways (OTLP in, `nats` exporter with partitions) under
 * load from the official OpenTelemetry exporter, and aggregator collectors sharing the
 * partitions (`partitions.assign: auto`) and aggregating `tier.*` by route, each in its own
 * process. Mid-load one NATS node is killed with -9, then one aggregator, then a fourth
 * aggregator starts: the partitions move within a lease, the newcomer gets its share, every
 * point the gateways acknowledged reaches the sink, and the aggregated outputs never go down
 * and end equal to a single collector's given the same input (the aggregate state moves with
 * its partitions).
 */
describe('a partitioned tier on a three-node NATS JetStream cluster', () => {
  const cluster = new NatsCluster();
  let sink: OtlpSink;
  /** The single collector's sink. */
  let reference: OtlpSink;
  let dir: string;
  const processes: CollectorProcess[] = [];

  beforeAll(async () => {
    await cluster.start(3);
    sink = new OtlpSink();
    await sink.start();
    reference = new OtlpSink();
    await reference.start();
    dir = await mkdtemp(join(tmpdir(), 'sluice-tier-'));
  });

  afterAll(async () => {
    // SIGTERM, then -9 for any still running after 20 s: a test must stop by itself.
    await Promise.all(
      processes.map(async (p) => {
        if (!p.alive) return;
        const stopped = p.stop();
        const timer = setTimeout(() => void p.kill9(), 20_000);
        await stopped;
        clearTimeout(timer);
      }),
    );
    await sink?.stop();
    await reference?.stop();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(
    name: string,
    pipeline: string,
    route: { receiver: string; processors: string; exporter: string },
  ): Promise<CollectorProcess> {
    const collector = new CollectorProcess(dir, name, await freePort());
    await collector.start(`${pipeline}
service:
  telemetry:
    metrics:
      address: ${collector.adminUrl.replace('http://', '')}
  pipelines:
    metrics: { receivers: [${route.receiver}], processors: [${route.processors}], exporters: [${route.exporter}] }
`);
    processes.push(collector);
    return collector;
  }

  async function gateway(name: string): Promise<{ collector: CollectorProcess; port: number }> {
    const port = await freePort();
    const collector = await start(
      name,
      `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${port} }
exporters:
  nats:
    url: ${cluster.url}
    stream: TIER
    subject: tier.otlp
    partitions: ${PARTITIONS}
    partition_by: { attributes: [route, id] }
    replicas: 3
    batch: { flush_interval: 10ms }
    retry_on_failure: { initial_interval: 100ms, max_interval: 1s, max_elapsed_time: 120s }
    circuit_breaker: { enabled: false }`,
      { receiver: 'otlp', processors: '', exporter: 'nats' },
    );
    return { collector, port };
  }

  /** The reference: one collector aggregating the same input alone. */
  async function single(): Promise<{ collector: CollectorProcess; port: number }> {
    const port = await freePort();
    const collector = await start(
      'single',
      `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${port} }
${AGGREGATE}
exporters:
  otlphttp:
    metrics_endpoint: ${reference.url}
    batch: { flush_interval: 10ms }`,
      { receiver: 'otlp', processors: 'aggregate', exporter: 'otlphttp' },
    );
    return { collector, port };
  }

  const aggregator = (name: string) =>
    start(
      name,
      `receivers:
  nats:
    url: ${cluster.url}
    stream: TIER
    consumer: aggregators
    ack_wait: 5s
    partitions: { count: ${PARTITIONS}, subject: tier.otlp, replicas: 3 }
${AGGREGATE}
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }`,
      { receiver: 'nats', processors: 'aggregate', exporter: 'otlphttp' },
    );

  /** Waits until `members` split the partitions; says what each member logged if they do not. */
  async function untilSplit(what: string, members: Record<string, CollectorProcess>) {
    try {
      await waitUntil(what, () => split(Object.values(members)), 30_000, 100);
    } catch (err) {
      const logs = Object.entries(members).map(([name, m]) => {
        const lines = m.output.split('\n').filter((l) => l.includes('"nats') || l.includes('NATS'));
        return `${name}:\n${lines.slice(-15).join('\n')}`;
      });
      throw new Error(`${(err as Error).message}\n${logs.join('\n')}`);
    }
  }

  /** Whether `members` hold every partition, each one once, in even shares. */
  function split(members: CollectorProcess[]): boolean {
    const all = members.flatMap(held);
    const sizes = members.map((m) => held(m).length);
    return (
      all.length === PARTITIONS &&
      new Set(all).size === PARTITIONS &&
      Math.max(...sizes) - Math.min(...sizes) <= 1
    );
  }

  it('survives a NATS node and an aggregator killed mid-load, rebalances on join, loses nothing, aggregates as one process would', async () => {
    const gateways = [await gateway('gateway1'), await gateway('gateway2')];
    const one = await single();
    const a = await aggregator('aggregator-a');
    const b = await aggregator('aggregator-b');
    const c = await aggregator('aggregator-c');
    await untilSplit('three aggregators splitting the partitions', { a, b, c });

    const loads = gateways.map(
      ({ port }, k) => new OfficialLoad(`http://127.0.0.1:${port}/v1/metrics`, `tier${k}`),
    );
    for (const load of loads) load.start(50, 100);
    const hosts = new HostLoad(
      gateways.map(({ port }) => `http://127.0.0.1:${port}/v1/metrics`),
      `http://127.0.0.1:${one.port}/v1/metrics`,
    );
    hosts.start();
    try {
      await sleep(2_000);
      await cluster.nodes[1].kill9(); // a NATS node, mid-load
      await sleep(3_000);

      await a.kill9(); // an aggregator, holding partitions and messages in hand
      const killedAt = Date.now();
      await untilSplit('b and c to hold every partition', { b, c });
      const takeoverMs = Date.now() - killedAt;
      console.log(`takeover after kill -9 (one NATS node down): ${takeoverMs} ms`);
      // Measured 3.7-7.5 s in fifteen runs: the lease plus the rounds, and JetStream electing
      // new leaders for what the dead NATS node led. (4.9-21.3 s while a round waited for
      // the partitions it gave up to stop, and the member's other leases lapsed meanwhile.)
      expect(takeoverMs).toBeLessThanOrEqual(15_000);

      const d = await aggregator('aggregator-d');
      await untilSplit('b, c and d to split the partitions', { b, c, d });
      await sleep(2_000);
    } finally {
      for (const load of loads) await load.stop();
      await hosts.stop();
    }
    const acknowledged = loads.flatMap((load) => [...load.result.acknowledged]);
    for (const load of loads) await load.shutdown();
    expect(acknowledged.length).toBeGreaterThan(2_000);
    try {
      await waitUntil(
        'every acknowledged point in the sink',
        () => {
          const delivered = sink.deliveredIds();
          return acknowledged.every((id) => delivered.has(id));
        },
        60_000,
        200,
      );
    } catch (err) {
      // Where the missing points are: each partition consumer's state in JetStream.
      const nc = await connect({ servers: cluster.url.split(',') });
      const jsm = await nc.jetstreamManager();
      const states: string[] = [];
      for (let p = 0; p < PARTITIONS; p++) {
        const info = await jsm.consumers.info('TIER', `aggregators_p${p}`).catch((e) => e);
        states.push(
          `p${p}: pending ${info.num_pending} ack_pending ${info.num_ack_pending} redelivered ${info.num_redelivered} waiting ${info.num_waiting}`,
        );
      }
      await nc.close();
      const delivered = sink.deliveredIds();
      const missing = acknowledged.filter((id) => !delivered.has(id));
      throw new Error(
        `${(err as Error).message}: ${missing.length} of ${acknowledged.length} missing (${missing.slice(0, 5).join(', ')})\n${states.join('\n')}`,
      );
    }

    // The aggregated outputs: those of the tier end equal to the single collector's.
    const expected = () => finalTotals(tierOutputs(reference));
    await waitUntil(
      'the single collector to emit every output series',
      () => expected().size === 2 * ROUTES,
      30_000,
      200,
    );
    let last = '';
    try {
      await waitUntil(
        'the tier to end at the totals the single collector ended at',
        () => {
          last = JSON.stringify([...finalTotals(tierOutputs(sink))]);
          return last === JSON.stringify([...expected()]);
        },
        60_000,
        250,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\ntier:   ${last}\nsingle: ${JSON.stringify([...expected()])}`,
      );
    }
    // And never went down on the way, nor started over.
    const bySeries = new Map<string, OutputPoint[]>();
    for (const point of tierOutputs(sink)) {
      bySeries.set(point.series, [...(bySeries.get(point.series) ?? []), point]);
    }
    for (const [series, points] of bySeries) {
      const ordered = [...points].sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
      for (let k = 1; k < ordered.length; k++) {
        const [before, now] = [ordered[k - 1], ordered[k]];
        expect(now.level, `${series} at ${now.time}`).toBeGreaterThanOrEqual(before.level);
        // The earliest start of the inputs seen: earlier as hosts are first seen, never
        // later (a reset).
        expect(BigInt(now.start), `${series} start at ${now.time}`).toBeLessThanOrEqual(
          BigInt(before.start),
        );
      }
    }
  }, 240_000);
});
