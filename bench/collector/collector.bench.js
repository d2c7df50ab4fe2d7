// The collector under load: OTLP/HTTP in → batch or aggregate → OTLP/HTTP out to a sink, each
// in its own process, load from `sluice loadgen` in this one. Reports points/s end to end, the
// collector's CPU time per point and its peak RSS (read from /proc).
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../../dist/cli/loadgen.js';
import { writeDocsSection } from '../lib/report.js';

const DURATION_MS = Number(process.env.COLLECTOR_BENCH_MS ?? 10_000);
// `service.decode_threads` settings to compare, e.g. `0,1` (the default) or `auto`: 0 decodes
// request bodies on the collector's main thread.
const DECODE_THREADS = (process.env.COLLECTOR_DECODE_THREADS ?? '0,1').split(',');
// Points per second offered (0: as fast as the collector takes them). A fixed rate compares
// CPU per point between settings at the same load.
const RATE = Number(process.env.COLLECTOR_RATE ?? 0);
// Concurrent loadgen connections (requests in flight).
const CONNECTIONS = Number(process.env.COLLECTOR_CONNECTIONS ?? 8);
const here = (file) => new URL(file, import.meta.url).pathname;

const sink = fork(here('../exporter/sink.js'), { stdio: 'inherit' });
// A failed check ends the benchmark: take the sink (and a collector, killed at the failure) along.
process.on('exit', () => sink.kill());
const sinkPort = await new Promise((resolve) => sink.once('message', (m) => resolve(m.port)));
async function scenario(title, processorsYaml, processorList, threads) {
  const name = `${title}, decode_threads ${threads}`;
  // COLLECTOR_SCENARIOS=aggregate runs only the scenarios whose processors match.
  if (process.env.COLLECTOR_SCENARIOS && !process.env.COLLECTOR_SCENARIOS.includes(processorList)) {
    return [];
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const config = join(dir, 'collector.yaml');
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
${processorsYaml}
exporters:
  otlphttp:
    metrics_endpoint: http://127.0.0.1:${sinkPort}/v1/metrics
    compression: none
    sending_queue:
      queue_size: 400000
      block_on_overflow: true
service:
  decode_threads: ${threads}
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [${processorList}]
      exporters: [otlphttp]
`,
  );
  const collector = spawn(
    process.execPath,
    // COLLECTOR_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the collector.
    [
      ...(process.env.COLLECTOR_NODE_ARGS?.split(' ') ?? []),
      here('../../dist/cli/main.js'),
      'run',
      '--config',
      config,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let banner = '';
  collector.stdout.on('data', (chunk) => {
    banner += chunk;
  });
  while (!/admin http:\/\/\S+\/metrics/.test(banner)) await new Promise((r) => setTimeout(r, 20));
  const endpoint = /receiving OTLP\/HTTP (\S+)/.exec(banner)[1];
  const admin = /admin (http:\/\/\S+)\/metrics/.exec(banner)[1];
  const cpuTicks = () => {
    const fields = readFileSync(`/proc/${collector.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
  };
  const peakRss = () =>
    Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${collector.pid}/status`, 'utf8'))[1]) * 1024;
  // Each scrape also restarts the main thread's utilization gauge: the one right after the
  // load covers exactly the measured load.
  const scrape = async () => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    const read = (pattern) => Number(pattern.exec(text)?.[1] ?? 0);
    return {
      utilization: read(/^sluice_event_loop_utilization_ratio (\S+)/m),
      requests: read(/sluice_receiver_requests_total\{[^}]*\} (\d+)/),
      scanned: read(/sluice_receiver_scanned_requests_total\{[^}]*\} (\d+)/),
      accepted: read(/sluice_receiver_accepted_points_total\{[^}]*\} (\d+)/),
      queued: read(/sluice_exporter_queue_points\{[^}]*\} (\d+)/),
      exporterAccepted: read(/sluice_exporter_accepted_points_total\{[^}]*\} (\d+)/),
      sent: read(/sluice_exporter_sent_points_total\{[^}]*\} (\d+)/),
    };
  };
  const sinkStats = async () => (await fetch(`http://127.0.0.1:${sinkPort}/stats`)).json();
  /**
   * Waits until the exporter has delivered everything it accepted and the sink holds what it
   * says it sent (the aggregate processor emits every interval: this finds a quiet moment).
   */
  const drained = async (sentBefore) => {
    const until = performance.now() + 60_000;
    for (;;) {
      const c = await scrape();
      if (c.queued === 0 && c.sent === c.exporterAccepted) {
        const sink = await sinkStats();
        if (sink.points === c.sent - sentBefore) return { counters: c, sink };
      }
      if (performance.now() > until) {
        collector.kill('SIGKILL');
        const sink = await sinkStats();
        throw new Error(
          `${name}: the sink did not receive every point the collector sent (${JSON.stringify({ ...c, sentBefore, sink })})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const quiet = { out: () => {}, err: () => {} };
  const load = (durationMs, rate) =>
    runLoad(
      {
        endpoint,
        protocol: 'http',
        series: 50_000,
        batchPoints: 1000,
        rate,
        durationMs,
        concurrency: CONNECTIONS,
      },
      quiet,
    );
  await fetch(`http://127.0.0.1:${sinkPort}/reset`);
  await load(1500, 0);
  const { counters: before } = await drained(0);
  await fetch(`http://127.0.0.1:${sinkPort}/reset`);
  const ticksBefore = cpuTicks();
  const started = performance.now();
  const generated = await load(DURATION_MS, RATE);
  const during = await scrape();
  const { counters: after, sink } = await drained(before.sent);
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (cpuTicks() - ticksBefore) / 100; // USER_HZ is 100 on Linux
  const points = after.accepted - before.accepted;
  // Every point loadgen counts as sent was accepted; with `batch` every one of them reached
  // the sink (with `aggregate` the sink holds the outputs, checked against what was sent).
  if (points !== generated.sentPoints || generated.failedRequests > 0 || sink.malformed > 0)
    throw new Error(
      `${name}: loadgen sent ${generated.sentPoints} points (${generated.failedRequests} failed requests), the receiver accepted ${points}`,
    );
  if (processorList === 'batch' && sink.points !== points)
    throw new Error(`${name}: the sink received ${sink.points} of ${points} points`);
  const { utilization } = during;
  const requests = after.requests;
  const scanned = after.scanned;
  const rss = peakRss();
  collector.kill('SIGTERM');
  await new Promise((r) => collector.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
  const rows = [
    {
      name: `${name}: points/s through the collector`,
      unit: 'points/s',
      value: Math.round(points / seconds),
      baseline: null,
      ratio: null,
    },
    {
      name: `${name}: CPU time per point`,
      unit: 'µs',
      value: Math.round((cpuSeconds * 1e6 * 100) / points) / 100,
      baseline: null,
      ratio: null,
    },
    {
      name: `${name}: main thread busy`,
      unit: '%',
      value: Math.round(utilization * 100),
      baseline: null,
      ratio: null,
    },
    {
      name: `${name}: requests taken without decoding (fast path)`,
      unit: '%',
      value: requests ? Math.round((scanned * 100) / requests) : 0,
      baseline: null,
      ratio: null,
    },
    {
      name: `${name}: peak RSS`,
      unit: 'MB',
      value: Math.round(rss / 2 ** 20),
      baseline: null,
      ratio: null,
    },
  ];
  for (const r of rows) console.log(JSON.stringify(r));
  console.log(JSON.stringify({ info: 'load', name, ...generated, delivered: sink.points }));
  return rows;
}

const results = [];
for (const threads of DECODE_THREADS) {
  results.push(
    ...(await scenario(
      'OTLP/HTTP in → batch → OTLP/HTTP out',
      '  batch:\n    send_batch_size: 8192\n    timeout: 100ms',
      'batch',
      threads,
    )),
    ...(await scenario(
      'OTLP/HTTP in → aggregate (drop host) → OTLP/HTTP out',
      "  aggregate:\n    interval: 1s\n    rules:\n      - metrics: ['loadgen.*']\n        drop_attributes: [host]",
      'aggregate',
      threads,
    )),
  );
}
sink.kill();

const table = [
  '| benchmark | value |',
  '|---|---|',
  ...results.map((r) => `| ${r.name} | ${r.value} ${r.unit} |`),
].join('\n');
console.log(`\n${table}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'collector',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${DURATION_MS / 1000} s of load after a warm-up per scenario: \`sluice loadgen\` (8 connections, 1000-point requests, 50,000 series of counters and 10-bucket histograms) → one collector process (pipelines on its main thread; request bodies decoded there or on \`decode_threads\` worker threads) → a sink process; points/s counts what the receiver accepted over the time until the sink had received everything (checked: every point loadgen sent was accepted, and the sink received every point the exporter sent — with \`batch\`, every point accepted); "main thread busy" is the collector's event-loop utilization during the load.`,
      '',
      table,
    ].join('\n'),
  );
}
