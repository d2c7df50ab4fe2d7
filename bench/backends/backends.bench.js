// Points per second into real backends through sluice's exporters at their default settings,
// and, for remote write, sluice against vmagent as the proxy in front of VictoriaMetrics
// (CPU seconds per million points of each). Servers come from scripts/services (installed
// from Debian's packages when missing) on loopback and are stopped at the end.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import pg from 'pg';
import pino from 'pino';
import { compressSync, uncompressSync } from 'snappy';
import { request } from 'undici';
import { encodeWriteRequest } from '../../dist/codec/prometheus/remote-write.js';
import { influxdbExporterFactory } from '../../dist/exporters/influxdb/factory.js';
import { natsExporterFactory } from '../../dist/exporters/nats/factory.js';
import { postgresqlExporterFactory } from '../../dist/exporters/postgresql/factory.js';
import { remoteWriteExporterFactory } from '../../dist/exporters/prometheusremotewrite/factory.js';
import { decodeMetricsRequest, MetricBatch, MetricType, Temporality } from '../../dist/index.js';
import { collectorNodeArgs } from '../lib/collector-node-args.js';
import { writeDocsSection } from '../lib/report.js';
import { cpuSeconds, peakRssMb, startService } from '../lib/services.js';

const SERIES = Number(process.env.BACKENDS_SERIES ?? 10_000);
const ROUNDS = Number(process.env.BACKENDS_ROUNDS ?? 20);
// Runs of each remote-write proxy, alternating sluice and vmagent.
const PROXY_ROUNDS = Number(process.env.BACKENDS_PROXY_ROUNDS ?? 5);
// Runs of each proxy before those, not counted: a long-running relay has compiled its hot
// code; in its first million samples V8 is still optimizing (compilations on its worker
// threads were most of the difference between a proxy's first runs and later ones).
const PROXY_WARMUP_ROUNDS = Number(process.env.BACKENDS_PROXY_WARMUP_ROUNDS ?? 3);
const PER_BATCH = 1000;
// BACKENDS_PROXY_ONLY=1: only the remote-write proxies (sluice against vmagent).
const PROXY_ONLY = process.env.BACKENDS_PROXY_ONLY === '1';
const POINTS = SERIES * ROUNDS;
// Series of each remote-write proxy run (× ROUNDS samples: a million by default). A run of
// 200,000 samples lasted half a second: its CPU was a dozen clock ticks, and a run's fixed
// costs (the first requests after a pause, VictoriaMetrics' flush) weighed on it.
const PROXY_SERIES = Number(process.env.BACKENDS_PROXY_SERIES ?? 50_000);
const PROXY_POINTS = PROXY_SERIES * ROUNDS;
// Where the proxies send: VictoriaMetrics, and a sink in this process that answers at once
// and counts every sample it decodes (what a proxy costs when its backend keeps up).
const PROXY_TARGETS = (process.env.BACKENDS_PROXY_TARGETS ?? 'victoria-metrics,sink').split(',');
const here = (file) => new URL(file, import.meta.url).pathname;
const logger = pino({ level: 'silent' });

/** ROUNDS collections of SERIES cumulative counters, one minute apart, ending now. */
function buildBatches() {
  const batches = [];
  const now = BigInt(Date.now()) * 1_000_000n;
  for (let round = 0; round < ROUNDS; round++) {
    const time = now - BigInt(ROUNDS - round) * 60_000_000_000n;
    for (let first = 0; first < SERIES; first += PER_BATCH) {
      const batch = new MetricBatch({ points: PER_BATCH });
      const scope = batch.addScope(
        batch.addResource({ attributes: { 'service.name': 'bench', 'service.instance.id': 'i1' } }),
        { name: 'bench' },
      );
      const m = batch.addMetric(scope, {
        name: 'bench.requests',
        type: MetricType.Sum,
        temporality: Temporality.Cumulative,
        monotonic: true,
      });
      for (let s = first; s < Math.min(SERIES, first + PER_BATCH); s++) {
        batch.addNumberPoint(
          batch.series(m, { route: `/r/${s}`, method: 'GET', code: String(200 + (s % 3)) }),
          { startTime: now - 3_600_000_000_000n, time, value: round * 10 + (s % 7) },
        );
      }
      batches.push(batch);
    }
  }
  return batches;
}

/**
 * POINTS points through `factory`'s exporter into `server`; `count()` asks the backend, with
 * its own query API, how many it holds — the row is written only if it holds them all.
 */
async function throughExporter(name, factory, config, server, count, prepare = async () => {}) {
  await prepare();
  const configured = factory.configure(config);
  if (!configured.ok) throw new Error(`${name}: ${JSON.stringify(configured.issues)}`);
  const exporter = configured.create({ id: name, logger });
  await exporter.start();
  const batches = buildBatches();
  globalThis.gc?.();
  const serverCpu = cpuSeconds(server.pid);
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (const batch of batches) await exporter.consume(batch);
  await exporter.engine.forceFlush();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const stats = exporter.engine.stats;
  await exporter.shutdown({ deadlineMs: 5_000 });
  // Only a run that delivered everything measured the backend's speed.
  if (stats.sent !== POINTS)
    throw new Error(`${name}: ${stats.sent} of ${POINTS} points sent (${JSON.stringify(stats)})`);
  const stored = await count();
  if (stored !== POINTS)
    throw new Error(`${name}: the backend holds ${stored} of ${POINTS} points`);
  const row = {
    name: `${name}: points/s into the backend`,
    unit: 'points/s',
    value: Math.round(stats.sent / seconds),
    sluiceCpuPerMillion: round(((used.user + used.system) / 1e6 / POINTS) * 1e6),
    serverCpuPerMillion: round(((cpuSeconds(server.pid) - serverCpu) / POINTS) * 1e6),
    sent: stats.sent,
    failed: stats.accepted - stats.sent,
  };
  console.log(JSON.stringify(row));
  return row;
}

/**
 * Remote write in → `target`, through a proxy: CPU seconds of the proxy per million samples.
 * `target.samples(metric)` says how many samples of `metric` the target holds.
 */
async function throughProxy(name, run, proxyPid, writeUrl, target) {
  const metric = `proxy_${name}_${run}_total`;
  const bodies = [];
  const now = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (let first = 0; first < PROXY_SERIES; first += PER_BATCH) {
      const timeseries = [];
      for (let s = first; s < Math.min(PROXY_SERIES, first + PER_BATCH); s++) {
        timeseries.push({
          labels: [
            ['__name__', metric],
            ['code', String(200 + (s % 3))],
            ['job', 'bench'],
            ['route', `/r/${s}`],
          ],
          samples: [{ value: round * 10 + (s % 7), timestampMs: now - (ROUNDS - round) * 60_000 }],
        });
      }
      bodies.push(compressSync(Buffer.from(encodeWriteRequest({ timeseries, metadata: [] }))));
    }
  }
  const before = cpuSeconds(proxyPid);
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      for (;;) {
        const response = await request(writeUrl, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        });
        await response.body.arrayBuffer();
        if (response.statusCode < 300) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  // Until the target holds every sample (the proxy has forwarded it all).
  while ((await target.samples(metric)) < PROXY_POINTS) {
    if (performance.now() - started > 120_000)
      throw new Error(`${name}: not every sample arrived in ${target.name}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - started) / 1000;
  const row = {
    name: `remote write proxy into ${target.name}, ${name}: CPU s per million points`,
    unit: 's',
    value: round(((cpuSeconds(proxyPid) - before) / PROXY_POINTS) * 1e6),
    pointsPerSecond: Math.round(PROXY_POINTS / seconds),
  };
  console.log(JSON.stringify(row));
  return row;
}

/**
 * The samples of a `WriteRequest` (uncompressed) added to `counts` by metric name, read with a
 * bare walk over tags and lengths: a full decode made the sink the busiest process on the two
 * cores the proxies share.
 */
function countSamples(bytes, counts) {
  let pos = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[pos++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const end = varint() + pos;
    if (tag !== 0x0a) {
      pos = end; // metadata
      continue;
    }
    let name;
    let samples = 0;
    while (pos < end) {
      const field = varint();
      const stop = varint() + pos;
      if (field === 0x12) samples++;
      else if (field === 0x0a && name === undefined) {
        // Label { 1: name, 2: value }: the one named __name__ names the metric.
        const label = {};
        while (pos < stop) {
          const part = varint();
          const length = varint();
          label[part] = bytes.subarray(pos, pos + length).toString('latin1');
          pos += length;
        }
        if (label[0x0a] === '__name__') name = label[0x12];
      }
      pos = stop;
    }
    counts.set(name, (counts.get(name) ?? 0) + samples);
  }
}

/**
 * A remote-write backend in this process that answers 204 at once, counting every request's
 * samples by metric name (`countSamples`). Its CPU is this process's, not the proxy's.
 */
async function startCountingSink() {
  const counts = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      countSamples(uncompressSync(Buffer.concat(chunks)), counts);
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    name: 'a sink that keeps up',
    writeUrl: `http://127.0.0.1:${server.address().port}/api/v1/write`,
    samples: async (metric) => counts.get(metric) ?? 0,
    stop: () => server.close(),
  };
}

/** Samples of `metric` a Prometheus-API backend holds over the last hour, by its query API. */
async function promSamples(server, metric, flush = false) {
  if (flush) await fetch(`${server.url}/internal/force_flush`);
  const query = `sum(count_over_time(${metric}[1h]))`;
  const body = await (
    await fetch(`${server.url}/api/v1/query?query=${encodeURIComponent(query)}`)
  ).json();
  return Number(body.data.result[0]?.value[1] ?? 0);
}

/** Rows in the PostgreSQL exporter's points table. */
async function pgRows(address) {
  const client = new pg.Client({ connectionString: `postgres://postgres@${address}/postgres` });
  await client.connect();
  try {
    return Number((await client.query('SELECT count(*) AS n FROM metric_points')).rows[0].n);
  } finally {
    await client.end();
  }
}

/** Points of `measurement` in an InfluxDB 1 database, by InfluxQL. */
async function influxPoints(server, db, measurement) {
  const q = `SELECT count("counter") FROM "${measurement}"`;
  const body = await (
    await fetch(`${server.url}/query?db=${db}&q=${encodeURIComponent(q)}`, { method: 'POST' })
  ).json();
  return Number(body.results[0].series?.[0].values[0][1] ?? 0);
}

/** Points in every message of a JetStream stream, read back and decoded. */
async function natsPoints(address, stream) {
  const nc = await connect({ servers: `nats://${address}` });
  try {
    const js = nc.jetstream();
    const consumer = await js.consumers.get(stream);
    const { state } = await (await nc.jetstreamManager()).streams.info(stream);
    let points = 0;
    const messages = await consumer.fetch({ max_messages: state.messages, expires: 5_000 });
    let read = 0;
    for await (const message of messages) {
      points += decodeMetricsRequest(message.data).pointCount;
      if (++read === state.messages) break;
    }
    return points;
  } finally {
    await nc.close();
  }
}

function round(value, digits = 2) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * The same remote-write load through sluice and through vmagent into `target`, alternating
 * run by run (the order flips), each proxy started fresh: the median of each's runs.
 */
async function compareProxies(target) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-proxy-'));
  const config = join(dir, 'proxy.yaml');
  writeFileSync(
    config,
    `receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
exporters:
  prometheusremotewrite:
    endpoint: ${target.writeUrl}
    target_info: { enabled: false }
service:
  telemetry:
    metrics: { address: 127.0.0.1:0 }
    # BACKENDS_CARDINALITY=off runs the proxy without the dashboard's cardinality explorer.
    cardinality: { enabled: ${process.env.BACKENDS_CARDINALITY !== 'off'} }
  pipelines:
    metrics: { receivers: [prometheusremotewrite], exporters: [prometheusremotewrite] }
`,
  );
  const collector = spawn(
    process.execPath,
    [
      ...collectorNodeArgs(),
      // BACKENDS_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile sluice.
      ...(process.env.BACKENDS_NODE_ARGS?.split(' ') ?? []),
      here('../../dist/cli/main.js'),
      'run',
      '--config',
      config,
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let banner = '';
  collector.stdout.on('data', (chunk) => {
    banner += chunk;
  });
  while (!/remote write (http:\/\/\S+)/.test(banner)) await new Promise((r) => setTimeout(r, 20));
  const sluiceWrite = /remote write (http:\/\/\S+)/.exec(banner)[1];
  const agent = startService('vmagent', { VMAGENT_REMOTE_WRITE_URL: target.writeUrl });
  try {
    // Alternating sluice and vmagent round by round (the order flips), medians of each.
    const proxies = {
      sluice: { pid: collector.pid, url: sluiceWrite, runs: [], warmup: [] },
      vmagent: { pid: agent.pid, url: `${agent.url}/api/v1/write`, runs: [], warmup: [] },
    };
    for (let round = 0; round < PROXY_WARMUP_ROUNDS; round++) {
      for (const name of ['sluice', 'vmagent']) {
        const proxy = proxies[name];
        proxy.warmup.push(await throughProxy(name, `warmup${round}`, proxy.pid, proxy.url, target));
      }
    }
    for (let round = 0; round < PROXY_ROUNDS; round++) {
      const order = round % 2 === 0 ? ['sluice', 'vmagent'] : ['vmagent', 'sluice'];
      for (const name of order) {
        const proxy = proxies[name];
        globalThis.gc?.();
        proxy.runs.push(await throughProxy(name, round, proxy.pid, proxy.url, target));
      }
    }
    for (const { pid, runs, warmup } of Object.values(proxies)) {
      const mid = (key) => runs.map((r) => r[key]).sort((a, b) => a - b)[runs.length >> 1];
      // Peak RSS over all its runs (each proxy started fresh for them).
      const rss = peakRssMb(pid);
      rows.push({
        ...runs[0],
        value: mid('value'),
        pointsPerSecond: mid('pointsPerSecond'),
        peakRssMb: rss,
        // What its first run (fresh process, nothing compiled yet) cost.
        firstRun: warmup[0]?.value,
      });
      console.log(
        JSON.stringify({ name: `${runs[0].name.split(':')[0]}: peak RSS`, unit: 'MB', value: rss }),
      );
    }
  } finally {
    agent.stop();
    collector.kill('SIGTERM');
    await new Promise((r) => collector.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
const prometheus = PROXY_ONLY ? undefined : startService('prometheus');
if (prometheus)
  try {
    rows.push(
      await throughExporter(
        'prometheusremotewrite → Prometheus',
        remoteWriteExporterFactory,
        {
          endpoint: `${prometheus.url}/api/v1/write`,
        },
        prometheus,
        () => promSamples(prometheus, 'bench_requests_total'),
      ),
    );
  } finally {
    prometheus.stop();
  }
const vm = startService('victoria-metrics');
try {
  if (!PROXY_ONLY)
    rows.push(
      await throughExporter(
        'prometheusremotewrite → VictoriaMetrics',
        remoteWriteExporterFactory,
        {
          endpoint: `${vm.url}/api/v1/write`,
        },
        vm,
        () => promSamples(vm, 'bench_requests_total', true),
      ),
    );
  if (PROXY_TARGETS.includes('victoria-metrics'))
    await compareProxies({
      name: 'VictoriaMetrics',
      writeUrl: `${vm.url}/api/v1/write`,
      samples: (metric) => promSamples(vm, metric, true),
    });
} finally {
  vm.stop();
}
if (PROXY_TARGETS.includes('sink')) {
  const sink = await startCountingSink();
  try {
    await compareProxies(sink);
  } finally {
    sink.stop();
  }
}
if (!PROXY_ONLY) {
  const pgServer = startService('postgresql');
  try {
    rows.push(
      await throughExporter(
        'postgresql',
        postgresqlExporterFactory,
        {
          endpoint: `postgres://postgres@${pgServer.address}/postgres`,
        },
        pgServer,
        () => pgRows(pgServer.address),
      ),
    );
  } finally {
    pgServer.stop();
  }
  const influx = startService('influxdb');
  try {
    rows.push(
      await throughExporter(
        'influxdb (v1 /write)',
        influxdbExporterFactory,
        { endpoint: influx.url, v1_compatibility: { enabled: true, db: 'bench' } },
        influx,
        () => influxPoints(influx, 'bench', 'bench.requests'),
        () => fetch(`${influx.url}/query?q=CREATE%20DATABASE%20bench`, { method: 'POST' }),
      ),
    );
  } finally {
    influx.stop();
  }
  const nats = startService('nats-server');
  try {
    rows.push(
      await throughExporter(
        'nats (JetStream)',
        natsExporterFactory,
        { url: `nats://${nats.address}` },
        nats,
        () => natsPoints(nats.address, 'SLUICE_METRICS'),
      ),
    );
  } finally {
    nats.stop();
  }
}

const table = [
  '| benchmark | value | sluice CPU s / 1M points | server CPU s / 1M points |',
  '|---|---|---|---|',
  ...rows.map((r) =>
    r.unit === 'points/s'
      ? `| ${r.name} | ${r.value} points/s | ${r.sluiceCpuPerMillion} | ${r.serverCpuPerMillion} |`
      : `| ${r.name} | ${r.value} s (${r.pointsPerSecond} points/s, peak RSS ${r.peakRssMb} MB; first run ${r.firstRun} s) | | |`,
  ),
].join('\n');
console.log(`\n${table}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'backends',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. ${POINTS} cumulative counter points (${SERIES} series × ${ROUNDS} timestamps, 1000-point batches) per backend, each exporter at its default settings, servers from Debian's packages on loopback, all on this 2-core machine. Remote-write proxies: runs of ${PROXY_POINTS} samples (${PROXY_SERIES} series × ${ROUNDS} timestamps, 1000-sample requests, 4 connections), ${PROXY_WARMUP_ROUNDS} warm-up runs each (the first one's cost shown as "first run"), then the median of ${PROXY_ROUNDS} runs, alternating.`,
      '',
      table,
    ].join('\n'),
  );
}
