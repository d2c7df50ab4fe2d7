// What the persistent queue costs a pipeline: the same collector config with the exporter's
// queue in memory and on `file_storage` at each fsync policy, on `otlp → batch → otlphttp`
// and `otlp → aggregate → otlphttp`, rounds alternating between the queues (the order flips
// every round) and medians compared. Goal: `fsync: interval` keeps ≥ 75 % of the memory
// queue's points/s. Every run checks that loadgen's points were all accepted and that the
// sink received every point the exporter sent (with batch: every point accepted).
import { runCollectorScenario, startSink } from '../lib/collector-scenario.js';
import { median, table, writeDocsSection } from '../lib/report.js';

const DURATION_MS = Number(process.env.QUEUE_BENCH_MS ?? 8000);
const ROUNDS = Number(process.env.QUEUE_BENCH_ROUNDS ?? 3);

const sink = await startSink();
const sinkPort = sink.port;

const pipelines = [
  {
    title: 'otlp → batch → otlphttp',
    processor: 'batch',
    // 4096 points: the 8 connections' 1000-point requests fill a flush without waiting for
    // the timeout — which matters here, because before a durable queue the batch processor
    // acknowledges a request only once its flush is stored.
    yaml: '  batch:\n    send_batch_size: 4096\n    timeout: 100ms',
    everyPoint: true,
  },
  {
    title: 'otlp → aggregate → otlphttp',
    processor: 'aggregate',
    yaml: "  aggregate:\n    interval: 1s\n    rules:\n      - metrics: ['loadgen.*']\n        drop_attributes: [host]",
    everyPoint: false,
  },
];
const queues = ['memory', 'never', 'interval', 'always'];

function config(pipeline, queue, dir) {
  const persistent = queue !== 'memory';
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
${pipeline.yaml}
exporters:
  otlphttp:
    metrics_endpoint: http://127.0.0.1:${sinkPort}/v1/metrics
    compression: none
    sending_queue:
      queue_size: 400000
      block_on_overflow: true${persistent ? '\n      storage: file_storage' : ''}
extensions:
  file_storage:
    directory: ${dir}/queue
    fsync: ${persistent ? queue : 'interval'}
service:
  extensions: [${persistent ? 'file_storage' : ''}]
  decode_threads: 0
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [${pipeline.processor}]
      exporters: [otlphttp]
`;
}

const results = [];
for (const pipeline of pipelines) {
  const samples = new Map(queues.map((q) => [q, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? queues : [...queues].reverse();
    for (const queue of order) {
      const measured = await runCollectorScenario({
        name: `${pipeline.title}, ${queue}`,
        sinkPort,
        durationMs: DURATION_MS,
        everyPoint: pipeline.everyPoint,
        config: (dir) => config(pipeline, queue, dir),
      });
      const written = Number(
        /sluice_exporter_storage_written_bytes_total\{[^}]*\} (\d+)/.exec(
          measured.metricsText,
        )?.[1] ?? 0,
      );
      samples.get(queue).push({ ...measured, bytesPerPoint: written / measured.points });
    }
  }
  const memory = median(samples.get('memory').map((s) => s.pointsPerSecond));
  for (const queue of queues) {
    const runs = samples.get(queue);
    const pointsPerSecond = median(runs.map((s) => s.pointsPerSecond));
    const cpu = median(runs.map((s) => s.cpuMicrosPerPoint));
    const bytesPerPoint = median(runs.map((s) => s.bytesPerPoint));
    const line = {
      name: `${pipeline.title}: ${queue === 'memory' ? 'memory queue' : `persistent queue, fsync ${queue}`}`,
      unit: 'points/s',
      value: pointsPerSecond,
      baseline: memory,
      ratio: Math.round((pointsPerSecond / memory) * 100) / 100,
      baselineName: 'memory queue',
      cpuMicrosPerPoint: cpu,
      queueMBps: Math.round((pointsPerSecond * bytesPerPoint) / 2 ** 20),
      runs: runs.map((s) => s.pointsPerSecond),
    };
    results.push(line);
    console.log(JSON.stringify(line));
  }
}
sink.stop();

const rendered = table(results);
const extra = results
  .map(
    (r) => `| ${r.name} | ${r.cpuMicrosPerPoint} µs | ${r.queueMBps} MB/s | ${r.runs.join(', ')} |`,
  )
  .join('\n');
const detail = `| pipeline, queue | CPU per point | written to the queue | points/s of each run |\n|---|---|---|---|\n${extra}`;
console.log(`\n${rendered}\n\n${detail}`);
if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'queue',
    [
      `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${DURATION_MS / 1000} s of load per run after a warm-up, ${ROUNDS} rounds alternating the queues (medians): \`sluice loadgen\` (8 connections, 1000-point requests, 50,000 series) → one collector process → a sink process; the ratio is points/s against the memory queue in the same run.`,
      '',
      rendered,
      '',
      detail,
    ].join('\n'),
  );
}
