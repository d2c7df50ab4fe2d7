// The collector under load: OTLP/HTTP in → batch or aggregate → OTLP/HTTP out to a sink, each
// in its own process, load from `sluice loadgen` in this one. Reports points/s end to end, the
// collector's CPU time per point and its peak RSS (read from /proc).
import { runCollectorScenario, startSink } from '../lib/collector-scenario.js';
import { valueTable, writeDocsSection } from '../lib/report.js';

const DURATION_MS = Number(process.env.COLLECTOR_BENCH_MS ?? 10_000);
// `service.decode_threads` settings to compare, e.g. `0,1` (the default) or `auto`: 0 decodes
// request bodies on the collector's main thread.
const DECODE_THREADS = (process.env.COLLECTOR_DECODE_THREADS ?? '0,1').split(',');
// Points per second offered (0: as fast as the collector takes them). A fixed rate compares
// CPU per point between settings at the same load.
const RATE = Number(process.env.COLLECTOR_RATE ?? 0);
// Concurrent loadgen connections (requests in flight).
const CONNECTIONS = Number(process.env.COLLECTOR_CONNECTIONS ?? 8);
// The exporter's `sending_queue.ordering` (`per_series`, the default, or `none`).
const ORDERING = process.env.COLLECTOR_ORDERING ?? 'per_series';
// The exporter's `compression` (`none` here, so the rows measure the pipeline, not zlib;
// `gzip` is the exporters' default) and, if set, its `compression_params.level`.
const COMPRESSION = process.env.COLLECTOR_COMPRESSION ?? 'none';
const COMPRESSION_LEVEL = process.env.COLLECTOR_COMPRESSION_LEVEL;
// COLLECTOR_INPUT_COMPRESSION=gzip|zstd: loadgen compresses every request (gzip level 1,
// zstd level 3), as most exporters send.
const INPUT_COMPRESSION = process.env.COLLECTOR_INPUT_COMPRESSION ?? 'none';
// Points per loadgen request (1000 by default; an OpenTelemetry Collector sends up to 8192).
const BATCH_POINTS = Number(process.env.COLLECTOR_BATCH_POINTS ?? 1000);

const sink = await startSink();
const sinkPort = sink.port;

/** The exporter to the sink: `otlphttp`, or `otlp` (OTLP/gRPC). */
function exporterYaml(type) {
  const common = `    compression: ${COMPRESSION}${COMPRESSION_LEVEL ? `\n    compression_params: { level: ${COMPRESSION_LEVEL} }` : ''}
    sending_queue:
      queue_size: 400000
      block_on_overflow: true
      ordering: ${ORDERING}`;
  return type === 'otlp'
    ? `  otlp:\n    endpoint: 127.0.0.1:${sink.grpcPort}\n    tls: { insecure: true }\n${common}`
    : `  otlphttp:\n    metrics_endpoint: http://127.0.0.1:${sinkPort}/v1/metrics\n${common}`;
}

async function scenario(
  title,
  processorsYaml,
  processorList,
  threads,
  protocol = 'http',
  exporter = 'otlphttp',
) {
  const name = `${title}, decode_threads ${threads}`;
  // COLLECTOR_SCENARIOS=aggregate runs only the scenarios whose processors match.
  if (process.env.COLLECTOR_SCENARIOS && !process.env.COLLECTOR_SCENARIOS.includes(processorList)) {
    return [];
  }
  // COLLECTOR_PROTOCOLS=http (or grpc, or grpc-out) runs only the scenarios whose receiver
  // speaks it (grpc-out: those that export over gRPC).
  const protocols = process.env.COLLECTOR_PROTOCOLS?.split(',');
  if (protocols && !protocols.includes(exporter === 'otlp' ? 'grpc-out' : protocol)) {
    return [];
  }
  const measured = await runCollectorScenario({
    name,
    sinkPort,
    durationMs: DURATION_MS,
    rate: RATE,
    connections: CONNECTIONS,
    protocol,
    compression: INPUT_COMPRESSION,
    batchPoints: BATCH_POINTS,
    // With `batch` the sink holds every point accepted; with `aggregate`, the outputs.
    everyPoint: processorList === 'batch',
    // COLLECTOR_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the collector.
    nodeArgs: process.env.COLLECTOR_NODE_ARGS?.split(' ') ?? [],
    config: () => `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
      grpc:
        endpoint: 127.0.0.1:0
processors:
${processorsYaml}
exporters:
${exporterYaml(exporter)}
service:
  decode_threads: ${threads}
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [${processorList}]
      exporters: [${exporter}]
`,
  });
  const row = (what, unit, value) => ({
    name: `${name}: ${what}`,
    unit,
    value,
    baseline: null,
    ratio: null,
  });
  const rows = [
    row('points/s through the collector', 'points/s', measured.pointsPerSecond),
    row('CPU time per point', 'µs', measured.cpuMicrosPerPoint),
    row('of which in the kernel (system calls, loopback TCP)', 'µs', measured.systemMicrosPerPoint),
    row('main thread busy', '%', Math.round(measured.utilization * 100)),
    row(
      'requests taken without decoding (fast path)',
      '%',
      Math.round(measured.fastPathShare * 100),
    ),
    row('requests carried as they came (relay)', '%', Math.round(measured.relayShare * 100)),
    row('peak RSS', 'MB', Math.round(measured.peakRssBytes / 2 ** 20)),
  ];
  for (const r of rows) console.log(JSON.stringify(r));
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
      'OTLP/gRPC in → batch → OTLP/HTTP out',
      '  batch:\n    send_batch_size: 8192\n    timeout: 100ms',
      'batch',
      threads,
      'grpc',
    )),
    ...(await scenario(
      'OTLP/HTTP in → batch → OTLP/gRPC out',
      '  batch:\n    send_batch_size: 8192\n    timeout: 100ms',
      'batch',
      threads,
      'http',
      'otlp',
    )),
    ...(await scenario(
      'OTLP/HTTP in → aggregate (drop host) → OTLP/HTTP out',
      "  aggregate:\n    interval: 1s\n    rules:\n      - metrics: ['loadgen.*']\n        drop_attributes: [host]",
      'aggregate',
      threads,
    )),
  );
}
sink.stop();

const table = valueTable(results);
console.log(`\n${table}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'collector',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${DURATION_MS / 1000} s of load after a warm-up per scenario: \`sluice loadgen\` (8 connections, 1000-point requests, 50,000 series: half 10-bucket histograms, the rest counters and one in ten of those a gauge, their values moving with every send) → one collector process (pipelines on its main thread; request bodies decoded there or on \`decode_threads\` worker threads) → a sink process; points/s counts what the receiver accepted over the time until the sink had received everything (checked: every point loadgen sent was accepted, and the sink received every point the exporter sent — with \`batch\`, every point accepted); "main thread busy" is the collector's event-loop utilization during the load.`,
      '',
      table,
    ].join('\n'),
  );
}
