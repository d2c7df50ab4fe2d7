// Points per second into real backends through sluice's exporters at their default settings,
// and, for remote write, sluice against vmagent as the proxy in front of VictoriaMetrics
// (CPU seconds per million points of each). Servers come from scripts/services (installed
// from Debian's packages when missing) on loopback and are stopped at the end.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { compressSync } from 'snappy';
import { request } from 'undici';
import { encodeWriteRequest } from '../../dist/codec/prometheus/remote-write.js';
import { influxdbExporterFactory } from '../../dist/exporters/influxdb/factory.js';
import { natsExporterFactory } from '../../dist/exporters/nats/factory.js';
import { postgresqlExporterFactory } from '../../dist/exporters/postgresql/factory.js';
import { remoteWriteExporterFactory } from '../../dist/exporters/prometheusremotewrite/factory.js';
import { MetricBatch, MetricType, Temporality } from '../../dist/index.js';
import { writeDocsSection } from '../lib/report.js';

const SERIES = Number(process.env.BACKENDS_SERIES ?? 10_000);
const ROUNDS = Number(process.env.BACKENDS_ROUNDS ?? 20);
const PER_BATCH = 1000;
const POINTS = SERIES * ROUNDS;
const here = (file) => new URL(file, import.meta.url).pathname;
const script = (name) => here(`../../scripts/services/${name}.sh`);
const logger = pino({ level: 'silent' });
const CLOCK_TICKS = 100; // USER_HZ on Linux

function startService(name, env = {}) {
  const out = execFileSync('bash', [script(name), 'start'], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [address, stateDir] = out.trim().split('\n').at(-1).split(' ');
  return {
    address,
    url: `http://${address}`,
    stateDir,
    pid: Number(readFileSync(join(stateDir, 'pid'), 'utf8')),
    stop: () => execFileSync('bash', [script(name), 'stop', stateDir], { stdio: 'inherit' }),
  };
}

/** CPU seconds of a process and its direct children (PostgreSQL's backends). */
function cpuSeconds(pid) {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const self = Number(entry);
    // The service script's subshell may sit between: count children and grandchildren.
    const grand = ppid !== pid && ppidOf(ppid) === pid;
    if (self === pid || ppid === pid || grand) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS;
}

function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return -1;
  }
}

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

async function throughExporter(name, factory, config, server, prepare = async () => {}) {
  await prepare();
  const exporter = factory.create({ id: name, logger }, factory.configSchema.parse(config));
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
  const row = {
    name: `${name}: points/s into the backend`,
    unit: 'points/s',
    value: Math.round(POINTS / seconds),
    sluiceCpuPerMillion: round(((used.user + used.system) / 1e6 / POINTS) * 1e6),
    serverCpuPerMillion: round(((cpuSeconds(server.pid) - serverCpu) / POINTS) * 1e6),
    sent: stats.sent,
    failed: stats.accepted - stats.sent,
  };
  console.log(JSON.stringify(row));
  return row;
}

/** Remote write in → VictoriaMetrics, through a proxy: CPU seconds of the proxy per million. */
async function throughProxy(name, proxyPid, writeUrl, storage) {
  const bodies = [];
  const now = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (let first = 0; first < SERIES; first += PER_BATCH) {
      const timeseries = [];
      for (let s = first; s < Math.min(SERIES, first + PER_BATCH); s++) {
        timeseries.push({
          labels: [
            ['__name__', `proxy_${name}_total`],
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
  // Until the storage holds every series' last sample (the proxy has forwarded it all).
  for (;;) {
    await fetch(`${storage.url}/internal/force_flush`);
    const query = `count(last_over_time(proxy_${name}_total[1h]))`;
    const body = await (
      await fetch(`${storage.url}/api/v1/query?query=${encodeURIComponent(query)}`)
    ).json();
    if (Number(body.data.result[0]?.value[1] ?? 0) >= SERIES) break;
    if (performance.now() - started > 120_000) throw new Error(`${name}: not all series arrived`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - started) / 1000;
  const row = {
    name: `remote write proxy into VictoriaMetrics, ${name}: CPU s per million points`,
    unit: 's',
    value: round(((cpuSeconds(proxyPid) - before) / POINTS) * 1e6),
    pointsPerSecond: Math.round(POINTS / seconds),
  };
  console.log(JSON.stringify(row));
  return row;
}

function round(value, digits = 2) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const rows = [];
const prometheus = startService('prometheus');
try {
  rows.push(
    await throughExporter(
      'prometheusremotewrite → Prometheus',
      remoteWriteExporterFactory,
      {
        endpoint: `${prometheus.url}/api/v1/write`,
      },
      prometheus,
    ),
  );
} finally {
  prometheus.stop();
}
const vm = startService('victoria-metrics');
try {
  rows.push(
    await throughExporter(
      'prometheusremotewrite → VictoriaMetrics',
      remoteWriteExporterFactory,
      {
        endpoint: `${vm.url}/api/v1/write`,
      },
      vm,
    ),
  );
  // The same remote-write load through each proxy into the same VictoriaMetrics.
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-proxy-'));
  const config = join(dir, 'proxy.yaml');
  writeFileSync(
    config,
    `receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
exporters:
  prometheusremotewrite:
    endpoint: ${vm.url}/api/v1/write
    target_info: { enabled: false }
service:
  telemetry: { metrics: { address: 127.0.0.1:0 } }
  pipelines:
    metrics: { receivers: [prometheusremotewrite], exporters: [prometheusremotewrite] }
`,
  );
  const collector = spawn(
    process.execPath,
    [here('../../dist/cli/main.js'), 'run', '--config', config],
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
  rows.push(await throughProxy('sluice', collector.pid, sluiceWrite, vm));
  collector.kill('SIGTERM');
  await new Promise((r) => collector.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const agent = startService('vmagent', { VMAGENT_REMOTE_WRITE_URL: `${vm.url}/api/v1/write` });
  try {
    rows.push(await throughProxy('vmagent', agent.pid, `${agent.url}/api/v1/write`, vm));
  } finally {
    agent.stop();
  }
} finally {
  vm.stop();
}
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
    ),
  );
} finally {
  nats.stop();
}

const table = [
  '| benchmark | value | sluice CPU s / 1M points | server CPU s / 1M points |',
  '|---|---|---|---|',
  ...rows.map((r) =>
    r.unit === 'points/s'
      ? `| ${r.name} | ${r.value} points/s | ${r.sluiceCpuPerMillion} | ${r.serverCpuPerMillion} |`
      : `| ${r.name} | ${r.value} s (${r.pointsPerSecond} points/s) | | |`,
  ),
].join('\n');
console.log(`\n${table}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'backends',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. ${POINTS} cumulative counter points (${SERIES} series × ${ROUNDS} timestamps, 1000-point batches) per backend, each exporter at its default settings, servers from Debian's packages on loopback, all on this 2-core machine.`,
      '',
      table,
    ].join('\n'),
  );
}
