import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectorProcess,
  freePort,
  missing,
  OfficialLoad,
  report,
  sleep,
  victoriaSamples,
  waitUntil,
} from '../helpers/faults.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { type RunningService, startService } from '../helpers/services.js';

// The fault tests of docs/reliability.md: real servers, the official OpenTelemetry exporter
// (or an app with SluiceMetricExporter) as the client, the collector in its own process.
// Each counts what was acknowledged and what the backend holds — VictoriaMetrics through its
// export API, the OTLP sink by the ids it answered 2xx for — and asserts nothing
// acknowledged is missing. Each prints a `FAULT-REPORT` line: the rows of the doc's tables.

let dir: string;
let vm: RunningService;
const collectors: CollectorProcess[] = [];
const sinks: OtlpSink[] = [];
const apps: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-faults-'));
  vm = await startService('victoria-metrics');
});

afterAll(async () => {
  for (const app of apps) app.kill('SIGKILL');
  for (const collector of collectors) if (collector.alive) await collector.kill9();
  for (const sink of sinks) await sink.stop();
  await vm?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Setup {
  name: string;
  collector: CollectorProcess;
  receiverPort: number;
  storageDir: string;
}

async function setup(name: string): Promise<Setup> {
  const adminPort = await freePort();
  const collector = new CollectorProcess(dir, name, adminPort);
  collectors.push(collector);
  return { name, collector, receiverPort: await freePort(), storageDir: join(dir, name) };
}

/**
 * A collector config: OTLP/HTTP in, each of `exporters` out with fast retries (forever) and
 * a quick breaker, in memory or on `file_storage`.
 */
function config(
  s: Setup,
  exporters: Record<string, Record<string, unknown>>,
  options: { persistent: boolean; storage?: Record<string, unknown>; extra?: string } = {
    persistent: true,
  },
): string {
  const exporterYaml = Object.entries(exporters)
    .map(([id, settings]) => {
      const lines = [
        `  ${id}:`,
        ...Object.entries(settings).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
        '    retry_on_failure: { initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0 }',
        '    circuit_breaker: { failure_threshold: 3, reset_timeout: 500ms }',
        options.persistent
          ? '    sending_queue: { storage: file_storage }'
          : (options.extra ?? '    sending_queue: {}'),
      ];
      return lines.join('\n');
    })
    .join('\n');
  const storage = { directory: s.storageDir, ...options.storage };
  return `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${s.receiverPort}
exporters:
${exporterYaml}
extensions:
  file_storage: ${JSON.stringify(storage)}
service:
  extensions: [${options.persistent ? 'file_storage' : ''}]
  decode_threads: 0
  telemetry:
    metrics:
      address: ${s.collector.adminUrl.replace('http://', '')}
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: [${Object.keys(exporters).join(', ')}]
`;
}

const vmExporter = () => ({ endpoint: `${vm.url}/api/v1/write` });
const sinkExporter = (sink: OtlpSink) => ({ endpoint: sink.url.replace('/v1/metrics', '') });

function sinkIds(sink: OtlpSink): { ids: Set<string>; occurrences: number } {
  const all = sink.accepted.flatMap((r) => r.ids);
  return { ids: new Set(all), occurrences: all.length };
}

async function newSink(): Promise<OtlpSink> {
  const sink = new OtlpSink();
  sinks.push(sink);
  await sink.start();
  return sink;
}

/**
 * Waits until the sink holds every acknowledged id (all but `expectedLost`, then a little
 * longer for any straggler); returns the report's numbers.
 */
async function settleSink(
  sink: OtlpSink,
  acknowledged: Set<string>,
  timeoutMs = 90_000,
  expectedLost = 0,
) {
  await waitUntil(
    'the OTLP sink to hold every acknowledged point',
    () => missing(acknowledged, sinkIds(sink).ids).length <= expectedLost,
    timeoutMs,
  ).catch(() => {});
  if (expectedLost > 0) await sleep(2000);
  const { ids, occurrences } = sinkIds(sink);
  const lost = missing(acknowledged, ids).length;
  return { found: ids.size, lost, duplicates: occurrences - ids.size };
}

async function settleVictoria(run: string, acknowledged: Set<string>, timeoutMs = 90_000) {
  let last = { ids: new Set<string>(), samples: 0 };
  await waitUntil(
    'VictoriaMetrics to hold every acknowledged point',
    async () => {
      last = await victoriaSamples(vm.url, run);
      return missing(acknowledged, last.ids).length === 0;
    },
    timeoutMs,
    1000,
  ).catch(() => {});
  const lost = missing(acknowledged, last.ids).length;
  return { found: last.ids.size, lost, duplicates: last.samples - last.ids.size };
}

type Found = { found: number; lost: number; duplicates: number };

/** The report lines of a scenario with both backends (remote write and OTLP). */
function reportBoth(
  run: {
    scenario: string;
    queue: 'memory' | 'persistent';
    sent: number;
    acknowledged: Set<string>;
  },
  { toVictoria, toSink }: { toVictoria: Found; toSink: Found },
  notes: string,
): void {
  for (const [backend, found] of [
    ['VictoriaMetrics (remote write)', toVictoria],
    ['OTLP sink (otlphttp)', toSink],
  ] as const) {
    report({ ...run, backend, acknowledged: run.acknowledged.size, ...found, notes });
  }
}

describe('fault tests', () => {
  for (const persistent of [false, true]) {
    const queue = persistent ? 'persistent' : 'memory';
    it(`1 (${queue} queue): both backends down for 30 s under steady load, then back: 0 lost`, async () => {
      const s = await setup(`outage-${queue}`);
      const sink = await newSink();
      const sinkPort = sink.port;
      await s.collector.start(
        config(
          s,
          { prometheusremotewrite: vmExporter(), otlphttp: sinkExporter(sink) },
          { persistent },
        ),
      );
      const run = `outage-${queue}-${Date.now()}`;
      const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
      load.start(200, 100);
      await sleep(3000);
      await vm.pause();
      await sink.stop();
      await sleep(30_000);
      const queuedDuringOutage = await s.collector.metric('sluice_exporter_queue_points');
      await vm.resume();
      await sink.start(sinkPort);
      await sleep(3000);
      const result = await load.stop();
      await load.shutdown();
      const acknowledged = result.acknowledged;
      const sent = result.exports * 200;
      const [toVictoria, toSink] = await Promise.all([
        settleVictoria(run, acknowledged),
        settleSink(sink, acknowledged),
      ]);
      reportBoth(
        { scenario: '1. backend down 30 s under load', queue, sent, acknowledged },
        { toVictoria, toSink },
        `${queuedDuringOutage} points queued in the two exporters at the end of the outage`,
      );
      expect(queuedDuringOutage).toBeGreaterThan(0);
      expect(acknowledged.size).toBeGreaterThan(sent * 0.9);
      expect(toVictoria.lost).toBe(0);
      expect(toSink.lost).toBe(0);
      expect(await s.collector.metric('sluice_dropped_points_total')).toBe(0);
      await s.collector.stop();
    }, 240_000);
  }

  it('2: kill -9 of the collector mid-load with the backends down; restart, backends up: every acknowledged point arrives', async () => {
    const s = await setup('kill-collector');
    const sink = await newSink();
    const sinkPort = sink.port;
    await sink.stop();
    await vm.pause();
    const yaml = config(s, { prometheusremotewrite: vmExporter(), otlphttp: sinkExporter(sink) });
    await s.collector.start(yaml);
    const run = `kill-collector-${Date.now()}`;
    const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
    load.start(200, 50);
    await sleep(5000);
    const storedBeforeKill = await s.collector.metric('sluice_exporter_storage_records');
    await s.collector.kill9(); // mid-load: exports are in flight
    const result = await load.stop();
    await load.shutdown();
    await vm.resume();
    await sink.start(sinkPort);
    await s.collector.start(yaml);
    const replayed = await s.collector.metric('sluice_exporter_storage_replayed_points_total');
    const acknowledged = result.acknowledged;
    const [toVictoria, toSink] = await Promise.all([
      settleVictoria(run, acknowledged),
      settleSink(sink, acknowledged),
    ]);
    reportBoth(
      {
        scenario: '2. kill -9 of the collector, backends down',
        queue: 'persistent',
        sent: result.exports * 200,
        acknowledged,
      },
      { toVictoria, toSink },
      `${replayed} points replayed at restart (both queues)`,
    );
    expect(storedBeforeKill).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThanOrEqual(acknowledged.size * 2);
    expect(toVictoria.lost).toBe(0);
    expect(toSink.lost).toBe(0);
    await s.collector.stop();
  }, 240_000);

  it('2b: kill -9 of a relay (otlp → otlphttp, requests carried as bytes) mid-load with the backend down; restart: every acknowledged point arrives', async () => {
    const s = await setup('kill-relay');
    const sink = await newSink();
    const sinkPort = sink.port;
    await sink.stop();
    const yaml = config(s, { otlphttp: sinkExporter(sink) });
    await s.collector.start(yaml);
    const run = `kill-relay-${Date.now()}`;
    const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
    load.start(200, 50);
    await sleep(4000);
    const relayed = await s.collector.metric('sluice_receiver_relayed_requests_total');
    const storedBeforeKill = await s.collector.metric('sluice_exporter_storage_records');
    await s.collector.kill9();
    const result = await load.stop();
    await load.shutdown();
    await sink.start(sinkPort);
    await s.collector.start(yaml);
    const replayed = await s.collector.metric('sluice_exporter_storage_replayed_points_total');
    const toSink = await settleSink(sink, result.acknowledged);
    console.log(
      JSON.stringify({
        scenario: '2b. kill -9 of a relay, backend down',
        relayedRequests: relayed,
        acknowledged: result.acknowledged.size,
        replayed,
        ...toSink,
      }),
    );
    // The pipeline relayed (no request decoded) and its persistent queue held the requests.
    expect(relayed).toBeGreaterThan(0);
    expect(storedBeforeKill).toBeGreaterThan(0);
    expect(replayed).toBeGreaterThanOrEqual(result.acknowledged.size);
    expect(toSink.lost).toBe(0);
    await s.collector.stop();
  }, 240_000);

  it('3: kill -9 of an app using SluiceMetricExporter with a queue directory, backend down; the next start delivers what was accepted', async () => {
    const sink = await newSink();
    const sinkPort = sink.port;
    await sink.stop();
    const queueDir = join(dir, 'app-queue');
    const run = `kill-app-${Date.now()}`;
    const fixture = new URL('./fixtures/sdk-app.mjs', import.meta.url).pathname;
    const acknowledged = new Set<string>();
    let exports = 0;
    const app = spawn(process.execPath, [fixture, sink.url, queueDir, run, 'load'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    apps.push(app);
    let buffered = '';
    app.stdout!.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ACK '))
          for (const id of JSON.parse(line.slice(4))) acknowledged.add(id);
        if (line.startsWith('ACK ') || line.startsWith('FAIL')) exports++;
      }
    });
    await sleep(3000);
    app.kill('SIGKILL');
    await new Promise((resolve) => app.once('exit', resolve));
    await sink.start(sinkPort);
    const next = spawn(process.execPath, [fixture, sink.url, queueDir, run, 'replay'], {
      stdio: 'ignore',
    });
    apps.push(next);
    const found = await settleSink(sink, acknowledged, 60_000);
    next.kill('SIGKILL');
    report({
      scenario: '3. kill -9 of an app with SluiceMetricExporter, backend down',
      queue: 'persistent',
      backend: 'OTLP sink',
      sent: exports * 100,
      acknowledged: acknowledged.size,
      ...found,
    });
    expect(acknowledged.size).toBeGreaterThan(1000);
    expect(found.lost).toBe(0);
  }, 120_000);

  it('4: a segment cut mid-record while stopped: start succeeds, the rest is delivered, one corrupt record counted', async () => {
    const s = await setup('torn-tail');
    const sink = await newSink();
    const sinkPort = sink.port;
    await sink.stop();
    const yaml = config(s, { otlphttp: sinkExporter(sink) });
    await s.collector.start(yaml);
    const run = `torn-${Date.now()}`;
    const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
    load.start(200, 50);
    await sleep(3000);
    const result = await load.stop();
    await load.shutdown();
    await s.collector.kill9();
    const queueDir = join(s.storageDir, 'exporter_otlphttp');
    const segments = (await readdir(queueDir)).filter((n) => n.endsWith('.seg')).sort();
    let cut = '';
    for (const name of segments.reverse()) {
      const size = (await stat(join(queueDir, name))).size;
      if (size > 1000) {
        await truncate(join(queueDir, name), size - 500); // the last record loses its end
        cut = name;
        break;
      }
    }
    expect(cut).not.toBe('');
    await sink.start(sinkPort);
    await s.collector.start(yaml);
    const corrupt = await s.collector.metric('sluice_exporter_storage_corrupt_records_total');
    const acknowledged = result.acknowledged;
    const found = await settleSink(sink, acknowledged, 30_000, 200);
    report({
      scenario: '4. segment truncated mid-record while stopped',
      queue: 'persistent',
      backend: 'OTLP sink',
      sent: result.exports * 200,
      acknowledged: acknowledged.size,
      ...found,
      notes: `${corrupt} corrupt record skipped and counted: its ${found.lost} points are the ones the truncation destroyed`,
    });
    expect(corrupt).toBe(1);
    // Exactly the one cut record (one export of 200 points) is missing.
    expect(found.lost).toBe(200);
    expect(s.collector.output).toContain('corrupt record skipped');
    await s.collector.stop();
  }, 120_000);

  it.runIf(process.getuid?.() === 0)(
    '5: the queue directory on a full disk (a 4 MiB tmpfs): clear refusals, no crash, delivery resumes when space returns',
    async () => {
      const s = await setup('disk-full');
      await mkdir(s.storageDir, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', s.storageDir]);
      try {
        const sink = await newSink();
        const sinkPort = sink.port;
        await sink.stop();
        const yaml = config(
          s,
          { otlphttp: sinkExporter(sink) },
          { persistent: true, storage: { max_size_bytes: 16 * 1024 * 1024 } },
        );
        await s.collector.start(yaml);
        const run = `disk-full-${Date.now()}`;
        const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
        load.start(1000, 50);
        await waitUntil(
          'writes to fail on the full disk',
          async () => (await s.collector.metric('sluice_exporter_storage_write_errors_total')) > 0,
          60_000,
        );
        await sleep(2000);
        const refused = await s.collector.metric('sluice_receiver_refused_points_total', {
          reason: 'storage_error',
        });
        expect(refused).toBeGreaterThan(0);
        expect(s.collector.alive).toBe(true);
        expect(s.collector.output).toMatch(/ENOSPC|no space left on device/i);
        const ackedWhileFull = load.result.acknowledged.size;
        await sink.start(sinkPort);
        await waitUntil(
          'exports to be acknowledged again once the queue drained',
          () => load.result.acknowledged.size > ackedWhileFull + 5000,
          60_000,
        ).catch(async (e) => {
          console.log(s.collector.output.slice(-6000));
          console.log(await s.collector.metrics());
          throw e;
        });
        const result = await load.stop();
        await load.shutdown();
        const acknowledged = result.acknowledged;
        const found = await settleSink(sink, acknowledged, 60_000);
        // Nothing corrupt was left behind: a restart finds clean segments.
        await s.collector.stop();
        await s.collector.start(yaml);
        const corrupt = await s.collector.metric('sluice_exporter_storage_corrupt_records_total');
        report({
          scenario: '5. queue directory on a full disk (4 MiB tmpfs)',
          queue: 'persistent',
          backend: 'OTLP sink',
          sent: result.exports * 1000,
          acknowledged: acknowledged.size,
          ...found,
          notes: `${refused} points refused (503, storage_error) while full; ${corrupt} corrupt records at the restart`,
        });
        expect(found.lost).toBe(0);
        expect(corrupt).toBe(0);
        await s.collector.stop();
      } finally {
        execFileSync('umount', ['-l', s.storageDir]);
      }
    },
    180_000,
  );

  it('6: a slow backend (10 s per response) that also resets connections: nothing lost, memory bounded by the queue', async () => {
    const s = await setup('slow-backend');
    const sink = await newSink();
    sink.reply = (_request, index) => ({ delayMs: 10_000, reset: index % 3 === 1 });
    await s.collector.start(
      config(
        s,
        { otlphttp: { ...sinkExporter(sink), timeout: '15s' } },
        {
          persistent: false,
          extra: '    sending_queue: { queue_size: 50000, num_consumers: 4 }',
        },
      ),
    );
    const run = `slow-${Date.now()}`;
    const load = new OfficialLoad(`http://127.0.0.1:${s.receiverPort}/v1/metrics`, run);
    load.start(100, 50);
    let maxQueued = 0;
    let maxRss = 0;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      maxQueued = Math.max(maxQueued, await s.collector.metric('sluice_exporter_queue_points'));
      maxRss = Math.max(maxRss, await s.collector.rss());
      await sleep(500);
    }
    const result = await load.stop();
    await load.shutdown();
    sink.reply = () => ({});
    const acknowledged = result.acknowledged;
    const found = await settleSink(sink, acknowledged, 90_000);
    const resets = sink.received.length - sink.accepted.length;
    report({
      scenario: '6. backend answering in 10 s, resetting every third connection',
      queue: 'memory',
      backend: 'OTLP sink',
      sent: result.exports * 100,
      acknowledged: acknowledged.size,
      ...found,
      notes: `${resets} requests reset; at most ${maxQueued} points queued (queue_size 50000); peak RSS ${Math.round(maxRss / 1048576)} MB`,
    });
    expect(resets).toBeGreaterThan(0);
    expect(found.lost).toBe(0);
    expect(maxQueued).toBeLessThanOrEqual(50_000);
    expect(maxRss).toBeLessThan(400 * 1024 * 1024);
    await s.collector.stop();
  }, 180_000);
});
