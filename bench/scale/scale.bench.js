// The partitioned tier of docs/scaling.md on this machine: a gateway collector (OTLP/HTTP in,
// `nats` exporter with partitions by the attributes the aggregate keeps) fills a JetStream
// stream from `sluice loadgen`; then 1, 2 and 3 aggregator collectors (`nats` receiver with
// an explicit share of the partitions → `aggregate` → OTLP/HTTP to a sink), each in its own
// process, read the whole stream under a fresh consumer name. Reports the gateway's CPU per
// point, and the tier's points/s and CPU per point (aggregators, and nats-server) for each
// number of aggregators, the rounds alternating the order. Checked: loadgen's every point
// reached the stream, the aggregators together accepted every point in it exactly once, and
// the sink received every point their exporters sent.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import { runLoad } from '../../dist/cli/loadgen.js';
import { metricSum, spawnCollector, startSink } from '../lib/collector-scenario.js';
import { valueTable, writeDocsSection } from '../lib/report.js';
import { cpuSeconds, startService } from '../lib/services.js';

const PARTITIONS = 6;
const LOAD_MS = Number(process.env.SCALE_LOAD_MS ?? 8_000);
// `1-local`: one aggregator with `move_state: false` (its state does not move with the
// partitions: what that saves).
const TIERS = (process.env.SCALE_AGGREGATORS ?? '1,2,3,1-local').split(',').map((tier) => ({
  key: tier,
  count: Number.parseInt(tier, 10),
  moveState: !tier.endsWith('-local'),
}));
const ROUNDS = Number(process.env.SCALE_ROUNDS ?? 3);
const STREAM = 'SCALE';
const SUBJECT = 'scale.otlp';

const nats = startService('nats-server');
const natsUrl = `nats://${nats.address}`;
const sink = await startSink();
const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-scale-'));

const metricsOf = async (admin) => (await fetch(`${admin}/metrics`)).text();
const accepted = async (admin) =>
  metricSum(await metricsOf(admin), /^sluice_receiver_accepted_points_total\{[^}]*\} (\d+)/);
const exporterCounts = async (admin) => {
  const text = await metricsOf(admin);
  return {
    accepted: metricSum(text, /^sluice_exporter_accepted_points_total\{[^}]*\} (\d+)/),
    sent: metricSum(text, /^sluice_exporter_sent_points_total\{[^}]*\} (\d+)/),
    queued: metricSum(text, /^sluice_exporter_queue_points\{[^}]*\} (\d+)/),
  };
};

async function until(what, done, ms = 120_000) {
  const deadline = performance.now() + ms;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`scale: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collector(name, yaml, nodeArgs = []) {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, yaml);
  const c = await spawnCollector(path, nodeArgs);
  // SCALE_DEBUG=1: each collector's log lines on this process's stderr.
  if (process.env.SCALE_DEBUG) c.child.stdout.on('data', (d) => process.stderr.write(d));
  return c;
}

const telemetry = `service:
  telemetry: { metrics: { address: 127.0.0.1:0 } }`;

/** Fills the stream through one gateway: its CPU per point and the points it published. */
async function fill() {
  const gateway = await collector(
    'gateway',
    `receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  nats:
    url: ${natsUrl}
    stream: ${STREAM}
    subject: ${SUBJECT}
    partitions: ${PARTITIONS}
    partition_by: { attributes: [http.route, http.method, http.status_code, ok] }
    sending_queue: { queue_size: 2000000, block_on_overflow: true }
${telemetry}
  pipelines:
    metrics: { receivers: [otlp], exporters: [nats] }
`,
    // SCALE_GATEWAY_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
    process.env.SCALE_GATEWAY_NODE_ARGS?.split(' ') ?? [],
  );
  const quiet = { out: () => {}, err: () => {} };
  const ticks = gateway.cpuTicks();
  const started = performance.now();
  const load = await runLoad(
    {
      endpoint: gateway.endpoint,
      protocol: 'http',
      series: 50_000,
      batchPoints: 1000,
      rate: 0,
      durationMs: LOAD_MS,
      concurrency: 8,
    },
    quiet,
  );
  await until('the gateway to publish everything', async () => {
    const c = await exporterCounts(gateway.admin);
    return c.queued === 0 && c.sent === c.accepted && c.sent === load.sentPoints;
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = (gateway.cpuTicks() - ticks) / 100;
  const received = await accepted(gateway.admin);
  if (received !== load.sentPoints || load.failedRequests > 0)
    throw new Error(`scale: loadgen sent ${load.sentPoints}, the gateway accepted ${received}`);
  await gateway.stop();
  return {
    points: load.sentPoints,
    pointsPerSecond: Math.round(load.sentPoints / seconds),
    cpuMicrosPerPoint: Math.round((cpu / load.sentPoints) * 1e8) / 100,
  };
}

/**
 * `count` aggregators reading the whole stream under consumer `name`, aggregator k taking
 * the partitions p with p % count === k: the tier's points/s while all of them were reading,
 * and the CPU per point of the aggregators and of nats-server over that time.
 */
async function drain({ count, moveState }, name, points) {
  const aggregators = await Promise.all(
    Array.from({ length: count }, (_, k) =>
      collector(
        `${name}-${k}`,
        `receivers:
  nats:
    url: ${natsUrl}
    stream: ${STREAM}
    consumer: ${name}
    max_ack_pending: 1024
    partitions:
      count: ${PARTITIONS}
      subject: ${SUBJECT}
      assign: [${Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => p % count === k)}]
      move_state: ${moveState}
processors:
  aggregate:
    interval: 1s
    rules:
      - metrics: ['loadgen.*']
        drop_attributes: [host]
exporters:
  otlphttp:
    metrics_endpoint: http://127.0.0.1:${sink.port}/v1/metrics
    compression: none
${telemetry}
  pipelines:
    metrics: { receivers: [nats], processors: [aggregate], exporters: [otlphttp] }
`,
        // SCALE_AGGREGATOR_NODE_ARGS: as SCALE_GATEWAY_NODE_ARGS, for every aggregator.
        process.env.SCALE_AGGREGATOR_NODE_ARGS?.split(' ') ?? [],
      ),
    ),
  );
  const counts = () => Promise.all(aggregators.map((a) => accepted(a.admin)));
  // The window starts once every aggregator is reading (their starts differ by their
  // start-up), and ends when the stream is read.
  await until('every aggregator to read', async () => (await counts()).every((n) => n > 0));
  const cpu = () => aggregators.reduce((sum, a) => sum + a.cpuTicks() / 100, 0);
  const startCounts = await counts();
  const startCpu = cpu();
  const startNatsCpu = cpuSeconds(nats.pid);
  const started = performance.now();
  let total = 0;
  await until('the stream to be read', async () => {
    total = (await counts()).reduce((a, b) => a + b, 0);
    return total >= points;
  });
  const seconds = (performance.now() - started) / 1000;
  const measured = points - startCounts.reduce((a, b) => a + b, 0);
  const aggregatorCpu = cpu() - startCpu;
  const natsCpu = cpuSeconds(nats.pid) - startNatsCpu;
  // Every point once: a second look after the emits finds no more than the stream holds.
  await new Promise((r) => setTimeout(r, 1500));
  total = (await counts()).reduce((a, b) => a + b, 0);
  if (total !== points) {
    const consumers = [];
    const nc = await connect({ servers: natsUrl });
    for await (const c of (await nc.jetstreamManager()).consumers.list(STREAM)) {
      if (c.name.startsWith(name))
        consumers.push({ name: c.name, delivered: c.delivered, redelivered: c.num_redelivered });
    }
    await nc.close();
    throw new Error(
      `scale: ${count} aggregators accepted ${total} of the ${points} points: ${JSON.stringify(consumers)}`,
    );
  }
  const sinkBefore = (await (await fetch(`http://127.0.0.1:${sink.port}/stats`)).json()).points;
  const sent = (await Promise.all(aggregators.map((a) => exporterCounts(a.admin)))).reduce(
    (sum, c) => sum + c.sent,
    0,
  );
  await Promise.all(aggregators.map((a) => a.stop()));
  const sinkPoints = (await (await fetch(`http://127.0.0.1:${sink.port}/stats`)).json()).points;
  if (sinkPoints < sent || sinkPoints === 0 || sinkBefore > sinkPoints)
    throw new Error(`scale: the aggregators sent ${sent} points, the sink holds ${sinkPoints}`);
  return {
    pointsPerSecond: Math.round(measured / seconds),
    cpuMicrosPerPoint: Math.round((aggregatorCpu / measured) * 1e8) / 100,
    natsMicrosPerPoint: Math.round((natsCpu / measured) * 1e8) / 100,
  };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

const rows = [];
try {
  await fetch(`http://127.0.0.1:${sink.port}/reset`);
  const filled = await fill();
  const row = (name, unit, value) => {
    const r = { name, unit, value, baseline: null, ratio: null };
    console.log(JSON.stringify(r));
    rows.push(r);
  };
  row(
    'gateway (OTLP/HTTP → nats, 6 partitions): points/s published',
    'points/s',
    filled.pointsPerSecond,
  );
  row('gateway: CPU time per point', 'µs', filled.cpuMicrosPerPoint);
  const results = new Map(TIERS.map((tier) => [tier.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? TIERS : [...TIERS].reverse();
    for (const tier of order) {
      const name = `scale_n${tier.key.replace('-', '_')}_r${round}`;
      const result = await drain(tier, name, filled.points);
      console.log(JSON.stringify({ info: 'drain', aggregators: tier.key, round, ...result }));
      results.get(tier.key).push(result);
    }
  }
  for (const { key, count, moveState } of TIERS) {
    const runs = results.get(key);
    const label = `${count} aggregator${count === 1 ? '' : 's'} (nats → aggregate → OTLP/HTTP${moveState ? '' : ', move_state: false'})`;
    row(`${label}: points/s`, 'points/s', median(runs.map((r) => r.pointsPerSecond)));
    row(`${label}: CPU per point`, 'µs', median(runs.map((r) => r.cpuMicrosPerPoint)));
    row(`${label}: nats-server CPU per point`, 'µs', median(runs.map((r) => r.natsMicrosPerPoint)));
  }
  const table = valueTable(rows);
  console.log(`\n${table}`);
  if (process.argv.includes('--write-docs')) {
    writeDocsSection(
      'scale',
      [
        `Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, one \`nats-server\` (JetStream, file storage, one replica) on this machine: ${filled.points} points from \`sluice loadgen\` (${LOAD_MS / 1000} s, 8 connections, 1000-point requests, 50,000 series) through one gateway into a stream of ${PARTITIONS} partition subjects; then aggregators (\`aggregate\` every second), each its own process with an explicit share of the partitions, read the whole stream (medians of ${ROUNDS} rounds, the order alternating). Points/s counts from the moment every aggregator was reading to the end of the stream. Checked: every point loadgen sent reached the stream, the aggregators accepted each point in it exactly once, and the sink received what they sent. Everything — load, gateway or aggregators, nats-server, sink — shares the two cores. With \`move_state\` (the default) each partition's \`aggregate\` state is snapshotted to JetStream at each emit (about 500 bytes per series here before zstd, histograms included) and a message is acknowledged once a snapshot holds it; \`move_state: false\` is the cheaper mode that loses or splits state when a partition moves.`,
        '',
        table,
      ].join('\n'),
    );
  }
} finally {
  sink.stop();
  nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
