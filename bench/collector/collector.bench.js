// The collector under load: OTLP/HTTP in → batch → OTLP/HTTP out to a sink, each in its own
// process, load from `sluice loadgen` in this one. Reports points/s end to end, the
// collector's CPU time per point and its peak RSS (read from /proc).
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../../dist/cli/loadgen.js';
import { writeDocsSection } from '../lib/report.js';

const DURATION_MS = Number(process.env.COLLECTOR_BENCH_MS ?? 10_000);
const here = (file) => new URL(file, import.meta.url).pathname;

const sink = fork(here('../exporter/sink.js'), { stdio: 'inherit' });
const sinkPort = await new Promise((resolve) => sink.once('message', (m) => resolve(m.port)));
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
  batch:
    send_batch_size: 8192
    timeout: 100ms
exporters:
  otlphttp:
    metrics_endpoint: http://127.0.0.1:${sinkPort}/v1/metrics
    compression: none
    sending_queue:
      queue_size: 400000
      block_on_overflow: true
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
`,
);
const collector = spawn(
  process.execPath,
  [here('../../dist/cli/main.js'), 'run', '--config', config],
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
const sentByCollector = async () => {
  const text = await (await fetch(`${admin}/metrics`)).text();
  return Number(/sluice_exporter_sent_points_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
};

// Warm up, then measure.
await runLoad(
  {
    endpoint,
    protocol: 'http',
    series: 50_000,
    batchPoints: 1000,
    rate: 0,
    durationMs: 1500,
    concurrency: 8,
  },
  { out: () => {}, err: () => {} },
);
const ticksBefore = cpuTicks();
const sentBefore = await sentByCollector();
const started = performance.now();
const load = await runLoad(
  {
    endpoint,
    protocol: 'http',
    series: 50_000,
    batchPoints: 1000,
    rate: 0,
    durationMs: DURATION_MS,
    concurrency: 8,
  },
  { out: (line) => console.error(line), err: (line) => console.error(line) },
);
// Let the exporter drain what it accepted.
let sent = await sentByCollector();
for (let k = 0; k < 100 && sent - sentBefore < load.sentPoints; k++) {
  await new Promise((r) => setTimeout(r, 50));
  sent = await sentByCollector();
}
const seconds = (performance.now() - started) / 1000;
const cpuSeconds = (cpuTicks() - ticksBefore) / 100; // USER_HZ is 100 on Linux
const delivered = sent - sentBefore;
const results = [
  {
    name: 'collector OTLP/HTTP in → batch → OTLP/HTTP out',
    unit: 'points/s',
    value: Math.round(delivered / seconds),
    baseline: null,
    ratio: null,
  },
  {
    name: 'collector CPU time per point',
    unit: 'µs',
    value: Math.round((cpuSeconds * 1e6 * 100) / delivered) / 100,
    baseline: null,
    ratio: null,
  },
  {
    name: 'collector peak RSS',
    unit: 'MB',
    value: Math.round(peakRss() / 2 ** 20),
    baseline: null,
    ratio: null,
  },
];
for (const r of results) console.log(JSON.stringify(r));
console.log(JSON.stringify({ info: 'load', ...load, delivered, seconds }));
collector.kill('SIGTERM');
await new Promise((r) => collector.once('exit', r));
sink.kill();
rmSync(dir, { recursive: true, force: true });

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
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${DURATION_MS / 1000} s of load after a warm-up: \`sluice loadgen\` (8 connections, 1000-point requests, 50,000 series of counters and 10-bucket histograms) → one collector process → a sink process. The collector runs one thread (no cluster yet).`,
      '',
      table,
    ].join('\n'),
  );
}
