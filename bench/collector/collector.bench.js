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
  // Each scrape also restarts the main thread's utilization gauge: the second one covers
  // exactly the measured load.
  let utilization = 0;
  let requests = 0;
  let scanned = 0;
  const accepted = async () => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    utilization = Number(/^sluice_event_loop_utilization_ratio (\S+)/m.exec(text)?.[1] ?? 0);
    requests = Number(/sluice_receiver_requests_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    scanned = Number(/sluice_receiver_scanned_requests_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    return Number(/sluice_receiver_accepted_points_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const quiet = { out: () => {}, err: () => {} };
  await runLoad(
    {
      endpoint,
      protocol: 'http',
      series: 50_000,
      batchPoints: 1000,
      rate: 0,
      durationMs: 1500,
      concurrency: CONNECTIONS,
    },
    quiet,
  );
  const ticksBefore = cpuTicks();
  const acceptedBefore = await accepted();
  const started = performance.now();
  const load = await runLoad(
    {
      endpoint,
      protocol: 'http',
      series: 50_000,
      batchPoints: 1000,
      rate: RATE,
      durationMs: DURATION_MS,
      concurrency: CONNECTIONS,
    },
    quiet,
  );
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (cpuTicks() - ticksBefore) / 100; // USER_HZ is 100 on Linux
  const points = (await accepted()) - acceptedBefore;
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
  console.log(JSON.stringify({ info: 'load', name, ...load }));
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
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${DURATION_MS / 1000} s of load after a warm-up per scenario: \`sluice loadgen\` (8 connections, 1000-point requests, 50,000 series of counters and 10-bucket histograms) → one collector process (pipelines on its main thread; request bodies decoded there or on \`decode_threads\` worker threads) → a sink process; points/s counts what the receiver accepted; "main thread busy" is the collector's event-loop utilization during the load.`,
      '',
      table,
    ].join('\n'),
  );
}
