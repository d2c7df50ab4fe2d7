// One collector under load, for the benchmarks that measure whole pipelines: the collector
// (`sluice run` of the build) in its own process with the given config, load from
// `sluice loadgen` in this one, an OTLP sink (bench/exporter/sink.js) in a third. Measures
// points/s end to end, CPU time per point, main-thread utilization and peak RSS — after
// checking that every point loadgen sent was accepted and the sink received every point the
// exporter says it sent.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../../dist/cli/loadgen.js';
import { collectorNodeArgs } from './collector-node-args.js';

const here = (file) => new URL(file, import.meta.url).pathname;

/**
 * Starts the OTLP sink (bench/exporter/sink.js) in its own process, killed when this one
 * exits (a failed check ends a benchmark). Resolves `{ port, grpcPort, stop }`: its OTLP/HTTP
 * and OTLP/gRPC ports.
 */
export async function startSink() {
  const sink = fork(here('../exporter/sink.js'), { stdio: 'inherit' });
  process.on('exit', () => sink.kill());
  const { port, grpcPort } = await new Promise((resolve) => sink.once('message', resolve));
  return { port, grpcPort, stop: () => sink.kill() };
}

/**
 * `sluice run --config configPath` of the build in its own process (`nodeArgs` before the
 * script, e.g. `--cpu-prof`), resolved once its banner lists the admin server: the addresses
 * the banner gives, its CPU time and memory read from /proc, and `stop` (SIGTERM, waits for
 * the exit, so a profile gets written). A failed check ends the benchmark and kills it.
 */
export async function spawnCollector(configPath, nodeArgs = []) {
  const child = spawn(
    process.execPath,
    [
      ...collectorNodeArgs(),
      ...nodeArgs,
      here('../../dist/cli/main.js'),
      'run',
      '--config',
      configPath,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  let banner = '';
  child.stdout.on('data', (chunk) => {
    banner += chunk;
  });
  while (!/admin http:\/\/\S+\/metrics/.test(banner)) await new Promise((r) => setTimeout(r, 20));
  const proc = (file) => readFileSync(`/proc/${child.pid}/${file}`, 'utf8');
  /** A `/proc/<pid>/status` figure given in kB (VmRSS, VmHWM), in bytes. */
  const statusBytes = (name) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(proc('status'))[1]) * 1024;
  return {
    child,
    banner,
    endpoint: /receiving OTLP\/HTTP (\S+)/.exec(banner)?.[1],
    grpcEndpoint: /receiving OTLP\/gRPC (\S+)/.exec(banner)?.[1],
    admin: /admin (http:\/\/\S+)\/metrics/.exec(banner)[1],
    cpuTicks: () => {
      const fields = proc('stat').split(') ')[1].split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks
    },
    /** Kernel time alone (stime), in clock ticks: system calls, the network stack. */
    systemTicks: () => Number(proc('stat').split(') ')[1].split(' ')[12]),
    statusBytes,
    peakRss: () => statusBytes('VmHWM'),
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      process.off('exit', killOnExit);
    },
  };
}

/**
 * Runs `config(dir)` (a collector YAML whose receiver and admin listen on 127.0.0.1:0, `dir`
 * a scratch directory) under `durationMs` of load after a warm-up. `everyPoint`: the sink
 * must hold every point accepted (false where a processor aggregates).
 */
export async function runCollectorScenario({
  name,
  config,
  sinkPort,
  durationMs,
  rate = 0,
  connections = 8,
  everyPoint,
  series = 50_000,
  nodeArgs = [],
  protocol = 'http',
  compression = 'none',
  batchPoints = 1000,
}) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const configPath = join(dir, 'collector.yaml');
  writeFileSync(configPath, config(dir));
  const collector = await spawnCollector(configPath, nodeArgs);
  const { admin, cpuTicks, peakRss } = collector;
  const endpoint = protocol === 'grpc' ? collector.grpcEndpoint : collector.endpoint;
  // Each scrape also restarts the main thread's utilization gauge: the one right after the
  // load covers exactly the measured load.
  const scrape = async () => {
    const text = await (await fetch(`${admin}/metrics`)).text();
    // Summed over every line that matches (a receiver has one per transport).
    const read = (pattern) => metricSum(text, pattern);
    return {
      utilization: read(/^sluice_event_loop_utilization_ratio (\S+)/m),
      requests: read(/sluice_receiver_requests_total\{[^}]*\} (\d+)/),
      scanned: read(/sluice_receiver_scanned_requests_total\{[^}]*\} (\d+)/),
      relayed: read(/sluice_receiver_relayed_requests_total\{[^}]*\} (\d+)/),
      accepted: read(/sluice_receiver_accepted_points_total\{[^}]*\} (\d+)/),
      queued: read(/sluice_exporter_queue_points\{[^}]*\} (\d+)/),
      exporterAccepted: read(/sluice_exporter_accepted_points_total\{[^}]*\} (\d+)/),
      sent: read(/sluice_exporter_sent_points_total\{[^}]*\} (\d+)/),
    };
  };
  const sinkStats = async () => (await fetch(`http://127.0.0.1:${sinkPort}/stats`)).json();
  /**
   * Waits until the exporter has delivered everything it accepted and the sink received what
   * it says it sent since `sentBefore`, `sinkBefore` being the sink's count then (the
   * aggregate processor emits every interval: this finds a quiet moment). The sink is never
   * reset between the two: an emit landing between a reset and the snapshot would be counted
   * as sent but not received.
   */
  const drained = async (sentBefore, sinkBefore) => {
    const until = performance.now() + 60_000;
    for (;;) {
      const c = await scrape();
      if (c.queued === 0 && c.sent === c.exporterAccepted) {
        const sink = await sinkStats();
        if (sink.points - sinkBefore === c.sent - sentBefore)
          return {
            counters: c,
            sink: { ...sink, points: sink.points - sinkBefore },
            total: sink.points,
          };
      }
      if (performance.now() > until) {
        collector.child.kill('SIGKILL');
        const sink = await sinkStats();
        throw new Error(
          `${name}: the sink did not receive every point the collector sent (${JSON.stringify({ ...c, sentBefore, sink })})`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const quiet = { out: () => {}, err: () => {} };
  const load = (ms, pointsPerSecond) =>
    runLoad(
      {
        endpoint,
        protocol,
        series,
        batchPoints,
        rate: pointsPerSecond,
        durationMs: ms,
        concurrency: connections,
        compression,
      },
      quiet,
    );
  await fetch(`http://127.0.0.1:${sinkPort}/reset`);
  await load(1500, 0);
  const { counters: before, total: sinkBefore } = await drained(0, 0);
  const ticksBefore = cpuTicks();
  const systemBefore = collector.systemTicks();
  const started = performance.now();
  const generated = await load(durationMs, rate);
  const during = await scrape();
  const { counters: after, sink } = await drained(before.sent, sinkBefore);
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = (cpuTicks() - ticksBefore) / 100; // USER_HZ is 100 on Linux
  const systemSeconds = (collector.systemTicks() - systemBefore) / 100;
  const points = after.accepted - before.accepted;
  if (points !== generated.sentPoints || generated.failedRequests > 0 || sink.malformed > 0)
    throw new Error(
      `${name}: loadgen sent ${generated.sentPoints} points (${generated.failedRequests} failed requests), the receiver accepted ${points}`,
    );
  if (everyPoint && sink.points !== points)
    throw new Error(`${name}: the sink received ${sink.points} of ${points} points`);
  const rss = peakRss();
  const metricsText = await (await fetch(`${admin}/metrics`)).text();
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify({ info: 'load', name, ...generated, delivered: sink.points }));
  return {
    pointsPerSecond: Math.round(points / seconds),
    cpuMicrosPerPoint: Math.round((cpuSeconds * 1e6 * 100) / points) / 100,
    systemMicrosPerPoint: Math.round((systemSeconds * 1e6 * 100) / points) / 100,
    utilization: during.utilization,
    fastPathShare: after.requests ? after.scanned / after.requests : 0,
    relayShare: after.requests ? after.relayed / after.requests : 0,
    peakRssBytes: rss,
    points,
    delivered: sink.points,
    /** The collector's /metrics at the end, for counters a benchmark reads itself. */
    metricsText,
  };
}

/**
 * The sum of every line of a `/metrics` text that `pattern` matches (its first group a
 * number): a receiver has one line per transport, a pipeline one per exporter.
 */
export function metricSum(text, pattern) {
  return [...text.matchAll(new RegExp(pattern.source, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}
