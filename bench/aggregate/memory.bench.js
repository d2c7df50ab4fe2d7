// Memory of the `aggregate` processor per active input series: its tables after every
// series sent two points (the first through the decoder, which makes the series, the
// second through the collector's fast path, which merges into them), with the emit done.
// Each case in a fresh process (`--expose-gc`), measured as JS heap plus array buffers
// after full collections, minus the same before the load.
//
// There is no peer row: the vmagent Debian ships (1.79) predates its stream aggregation
// (1.86), and the OpenTelemetry JS SDK aggregates measurements, not input series.
import { spawnSync } from 'node:child_process';
import pino from 'pino';
import { encodeMetricsRequest } from '../../dist/codec/protobuf/encode-request.js';
import { MetricsRequestScanner } from '../../dist/codec/protobuf/scan-request.js';
import { decodeMetricsRequest, MetricBatch, MetricType, Temporality } from '../../dist/index.js';
import { AggregateProcessor } from '../../dist/processors/aggregate/aggregate-processor.js';
import { aggregateConfig } from '../../dist/processors/aggregate/config.js';
import { valueTable, writeDocsSection } from '../lib/report.js';

const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];
const PER_REQUEST = 1000;
/** Loads: how many hosts report each (route, metric); `host` is aggregated away. */
const LOADS = [
  { name: 'each input its own output (the collector benchmark load)', hosts: 1 },
  { name: '16 inputs per output (16 hosts per route, host dropped)', hosts: 16 },
];
const SIZES = (process.env.AGGREGATE_MEMORY_SERIES ?? '100000,150000,250000,500000')
  .split(',')
  .map(Number);

/**
 * Request `r` of a load of `series` input series: counters and 10-bucket cumulative
 * histograms, half each, five attributes (as `sluice loadgen` sends), at `time`.
 */
function request(r, hosts, time) {
  const batch = new MetricBatch({ points: PER_REQUEST });
  const scope = batch.addScope(
    batch.addResource({ attributes: { 'service.name': 'bench', 'service.instance.id': 'b' } }),
    { name: 'bench' },
  );
  const counter = batch.addMetric(scope, {
    name: 'requests',
    type: MetricType.Sum,
    temporality: Temporality.Cumulative,
    monotonic: true,
  });
  const histogram = batch.addMetric(scope, {
    name: 'duration',
    type: MetricType.Histogram,
    temporality: Temporality.Cumulative,
    unit: 'ms',
  });
  for (let k = 0; k < PER_REQUEST; k++) {
    const s = r * PER_REQUEST + k;
    // Series s: metric s % 2, host (s / 2) % hosts, route (and its other attributes) the rest.
    const route = Math.floor(s / (2 * hosts));
    const attributes = {
      'http.route': `/items/${route}`,
      'http.method': 'GET',
      'http.status_code': 200 + (route % 5),
      host: `h${(s >> 1) % hosts}`,
      ok: route % 3 !== 0,
    };
    if (s % 2 === 0)
      batch.addNumberPoint(batch.series(counter, attributes), {
        startTime: 1n,
        time,
        value: s + Number(time),
      });
    else
      batch.addHistogramPoint(batch.series(histogram, attributes), {
        startTime: 1n,
        time,
        count: 10 * Number(time),
        sum: 100,
        bounds: BOUNDS,
        bucketCounts: Array(10).fill(Number(time)),
      });
  }
  return encodeMetricsRequest(batch);
}

async function measureOne(hosts, series) {
  let emitted = 0;
  const processor = new AggregateProcessor(
    { id: 'aggregate', logger: pino({ level: 'silent' }) },
    aggregateConfig.parse({
      interval: '1h',
      rules: [{ metrics: ['*'], drop_attributes: ['host'] }],
    }),
    {
      consume: async (batch) => {
        emitted += batch.pointCount;
      },
    },
  );
  const scanner = new MetricsRequestScanner(processor);
  const requests = series / PER_REQUEST;
  const memory = () => {
    global.gc();
    global.gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  // The bodies of both rounds are made first, so only the processor's tables grow in between.
  const first = Array.from({ length: requests }, (_, r) => request(r, hosts, 10n));
  const second = Array.from({ length: requests }, (_, r) => request(r, hosts, 20n));
  const before = memory();
  for (const body of first) await processor.consume(decodeMetricsRequest(body));
  let scanned = 0;
  for (const body of second) {
    if (scanner.scan(body) > 0) scanned++;
    else await processor.consume(decodeMetricsRequest(body));
  }
  processor.flush();
  await new Promise((r) => setTimeout(r, 50));
  const bytes = memory() - before;
  const { inputs, outputs } = processor.series;
  if (inputs !== series) throw new Error(`${inputs} inputs, expected ${series}`);
  if (emitted !== outputs) throw new Error(`emitted ${emitted} points for ${outputs} outputs`);
  if (scanned !== requests) throw new Error(`only ${scanned} of ${requests} requests scanned`);
  await processor.shutdown();
  // Keep the bodies alive until measured: they are not the processor's.
  return {
    inputs,
    outputs,
    bytesPerInput: Math.round(bytes / inputs),
    kept: first.length + second.length,
  };
}

if (process.env.AGGREGATE_MEMORY_CASE) {
  const [hosts, series] = process.env.AGGREGATE_MEMORY_CASE.split(',').map(Number);
  process.stdout.write(JSON.stringify(await measureOne(hosts, series)));
} else {
  const rows = [];
  for (const load of LOADS) {
    for (const series of SIZES) {
      const run = spawnSync(process.execPath, ['--expose-gc', new URL(import.meta.url).pathname], {
        env: { ...process.env, AGGREGATE_MEMORY_CASE: `${load.hosts},${series}` },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (run.status !== 0) throw new Error(`case ${load.name}, ${series} failed`);
      const measured = JSON.parse(run.stdout);
      const row = {
        name: `aggregate, ${load.name}: memory per input series, ${series} inputs → ${measured.outputs} outputs`,
        unit: 'bytes',
        value: measured.bytesPerInput,
        baseline: null,
        ratio: null,
      };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  const markdown = valueTable(rows);
  console.log(`\n${markdown}`);
  if (process.argv.includes('--write-docs')) {
    writeDocsSection(
      'aggregate-memory',
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Each case in a fresh process: every input series sends two points (the first decoded, the second through the fast path), then one emit; JS heap plus array buffers after full collections, minus the same before the load, divided by the input series (checked: every input kept, every output emitted, every second request taken by the fast path). Counters and 10-bucket cumulative histograms, half each, five attributes per series.\n\n${markdown}`,
    );
  }
}
