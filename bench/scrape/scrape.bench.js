// The `npm start` default pipeline under load: OTLP/HTTP in → batch → the prometheus scrape
// endpoint, in a `sluice run` process. Reports the CPU time per point while loadgen sends, and
// one scrape of every series: its time, its size, the growth of the collector's resident
// memory during it (peak RSS reset just before, through /proc/<pid>/clear_refs) and how long
// the admin server took to answer while it ran (the event loop keeps serving). The scrape is
// checked: it holds every series loadgen sent.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runLoad } from '../../dist/cli/loadgen.js';
import { spawnCollector } from '../lib/collector-scenario.js';
import { valueTable, writeDocsSection } from '../lib/report.js';

const SERIES = Number(process.env.SCRAPE_SERIES ?? 300_000);
const DURATION_MS = Number(process.env.SCRAPE_LOAD_MS ?? 10_000);
const ROUNDS = Number(process.env.SCRAPE_ROUNDS ?? 3);

const dir = mkdtempSync(join(tmpdir(), 'sluice-scrape-bench-'));
const configPath = join(dir, 'collector.yaml');
writeFileSync(
  configPath,
  `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 1s
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
    metric_expiration: 1h
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus]
`,
);
const collector = await spawnCollector(configPath, process.env.SCRAPE_NODE_ARGS?.split(' ') ?? []);
const { endpoint, admin, cpuTicks } = collector;
const scrapeUrl = /scrape (http:\/\/\S+\/metrics)/.exec(collector.banner)[1];
const bytesOf = collector.statusBytes;
const counter = async (pattern) =>
  Number(pattern.exec(await (await fetch(`${admin}/metrics`)).text())?.[1] ?? 0);

const quiet = { out: () => {}, err: () => {} };
const load = (ms) =>
  runLoad(
    {
      endpoint,
      protocol: 'http',
      series: SERIES,
      batchPoints: 1000,
      rate: 0,
      durationMs: ms,
      concurrency: 8,
    },
    quiet,
  );
// Everything accepted reached the scrape endpoint (the batch processor flushes within 1 s).
const accepted = async () => counter(/sluice_receiver_accepted_points_total\{[^}]*\} (\d+)/);
const incoming = async () =>
  counter(/sluice_exporter_incoming_points_total\{exporter="prometheus"\} (\d+)/);
const caughtUp = async () => {
  while ((await incoming()) < (await accepted())) await new Promise((r) => setTimeout(r, 50));
};
// Warm-up: every series sent twice and taken in, so the timed load is the steady state a
// collector spends its life in. A series' first sighting (its labels rendered, its entry
// made) costs far more than a point of a known one; it is reported on its own row.
const warmupTicks = cpuTicks();
let warmupPoints = 0;
while (warmupPoints < 2 * SERIES) warmupPoints += (await load(1500)).sentPoints;
await caughtUp();
const warmupCpuSeconds = (cpuTicks() - warmupTicks) / 100;
// Rounds of timed load (SCRAPE_ROUNDS, default 3): CPU per point on this shared machine
// moves by a third between runs, so the row is the median round.
const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const acceptedBefore = await accepted();
  const ticksBefore = cpuTicks();
  const generated = await load(DURATION_MS);
  await caughtUp();
  const cpuSeconds = (cpuTicks() - ticksBefore) / 100;
  const points = (await accepted()) - acceptedBefore;
  if (points !== generated.sentPoints || generated.failedRequests > 0)
    throw new Error(`loadgen sent ${generated.sentPoints} points, the receiver accepted ${points}`);
  rounds.push({ cpuSeconds, points, generated, microsPerPoint: (cpuSeconds * 1e6) / points });
}
rounds.sort((a, b) => a.microsPerPoint - b.microsPerPoint);
const { cpuSeconds, points, generated } = rounds[Math.floor(ROUNDS / 2)];

async function scrapeOnce(gzip) {
  writeFileSync(`/proc/${collector.child.pid}/clear_refs`, '5'); // reset the peak RSS
  const rssBefore = bytesOf('VmRSS');
  let slowestAdminMs = 0;
  let scraping = true;
  const pinger = (async () => {
    while (scraping) {
      const t = performance.now();
      await fetch(`${admin.replace(/\/$/, '')}/healthz`).then((r) => r.text());
      slowestAdminMs = Math.max(slowestAdminMs, performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const started = performance.now();
  const response = await request(scrapeUrl, {
    headers: gzip ? { 'accept-encoding': 'gzip' } : {},
  });
  let wireBytes = 0;
  const chunks = [];
  for await (const chunk of response.body) {
    wireBytes += chunk.length;
    chunks.push(chunk);
  }
  const seconds = (performance.now() - started) / 1000;
  scraping = false;
  await pinger;
  let body = Buffer.concat(chunks);
  if (response.headers['content-encoding'] === 'gzip')
    body = (await import('node:zlib')).gunzipSync(body);
  const text = body.toString('utf8');
  const count = (prefix) => text.split(`\n${prefix}`).length - 1;
  const series =
    count('loadgen_requests_total{') +
    count('loadgen_duration_milliseconds_count{') +
    count('loadgen_queue_depth{');
  if (series !== SERIES) throw new Error(`the scrape holds ${series} of ${SERIES} series`);
  return {
    seconds,
    bodyBytes: body.length,
    wireBytes,
    lines: text.split('\n').length - 1,
    rssGrowthBytes: bytesOf('VmHWM') - rssBefore,
    slowestAdminMs,
    encoding: response.headers['content-encoding'] ?? 'identity',
  };
}
const plain = await scrapeOnce(false);
const zipped = await scrapeOnce(true);
// The scrape as a scraper that only reads the bytes sees it (curl, as Prometheus's own Go
// client would): the Node client above spends as long parsing 400 MB as sluice writing it.
const curlSeconds = (gzip) => {
  const times = [1, 2, 3].map(() =>
    Number(
      execFileSync('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{time_total}',
        ...(gzip ? ['-H', 'accept-encoding: gzip'] : []),
        scrapeUrl,
      ]).toString(),
    ),
  );
  return times.sort((a, b) => a - b)[1];
};
let curl;
try {
  curl = { plain: curlSeconds(false), gzip: curlSeconds(true) };
} catch {
  curl = undefined; // no curl here
}
await collector.stop();
rmSync(dir, { recursive: true, force: true });

const rows = [
  [
    `ingest: CPU time per point (OTLP/HTTP → batch → prometheus; median of ${ROUNDS} rounds)`,
    'µs',
    Math.round((cpuSeconds * 1e8) / points) / 100,
  ],
  ['ingest: points/s', 'points/s', Math.round(points / (DURATION_MS / 1000))],
  [
    `warm-up: CPU time per point while ${SERIES} series were new (each sent at least twice)`,
    'µs',
    Math.round((warmupCpuSeconds * 1e8) / warmupPoints) / 100,
  ],
  [
    `scrape of ${SERIES} series: time (Node client reading it)`,
    's',
    Math.round(plain.seconds * 100) / 100,
  ],
  ...(curl
    ? [
        [
          `scrape of ${SERIES} series: time (curl, median of 3)`,
          's',
          Math.round(curl.plain * 100) / 100,
        ],
        [`gzip scrape: time (curl, median of 3)`, 's', Math.round(curl.gzip * 100) / 100],
      ]
    : []),
  [`scrape of ${SERIES} series: body`, 'MB', Math.round(plain.bodyBytes / 2 ** 20)],
  [`scrape of ${SERIES} series: RSS growth`, 'MB', Math.round(plain.rssGrowthBytes / 2 ** 20)],
  [
    `scrape of ${SERIES} series: slowest /healthz during it`,
    'ms',
    Math.round(plain.slowestAdminMs),
  ],
  [
    `gzip scrape (${zipped.encoding}): time (Node client)`,
    's',
    Math.round(zipped.seconds * 100) / 100,
  ],
  [`gzip scrape: on the wire`, 'MB', Math.round(zipped.wireBytes / 2 ** 20)],
  [`gzip scrape: RSS growth`, 'MB', Math.round(zipped.rssGrowthBytes / 2 ** 20)],
].map(([name, unit, value]) => ({ name, unit, value, baseline: null, ratio: null }));
for (const row of rows) console.log(JSON.stringify(row));
console.log(
  JSON.stringify({
    info: 'scrape',
    points,
    lines: plain.lines,
    ...generated,
    roundsMicrosPerPoint: rounds.map((r) => Math.round(r.microsPerPoint * 100) / 100),
  }),
);
const table = valueTable(rows);
console.log(`\n${table}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'scrape',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}: \`sluice loadgen\` (8 connections, 1000-point requests, ${SERIES} series: half 10-bucket histograms, the rest counters and one in ten of those a gauge, their values moving with every send) for ${ROUNDS} rounds of ${DURATION_MS / 1000} s, after a warm-up in which every series was sent at least twice, into \`sluice run\` with the default pipeline (OTLP/HTTP → batch → prometheus), then one scrape of every series (checked: all ${SERIES} are in it), plain and gzip. RSS growth: the collector's peak resident memory during the scrape (reset just before) minus its resident memory before.`,
      '',
      table,
    ].join('\n'),
  );
}
process.exit(0);
