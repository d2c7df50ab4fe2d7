// One measured export in a fresh process: `node run-one.js <official|sluice> <series> <port>`.
// The SDK data is collected first (its cost is the SDK's, the same for both), then the
// exporter exports it once; we watch the event loop with a 1 ms interval meanwhile.

import { readFileSync, writeFileSync } from 'node:fs';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { SluiceMetricExporter } from '../../dist/index.js';

const [which, seriesText, port] = process.argv.slice(2);
const series = Number(seriesText);
const url = `http://127.0.0.1:${port}/v1/metrics`;

// The reader hands each collection to `collected` (an app's reader would hand it to the
// exporter; here the export is started and measured by hand). Only the latest is kept.
let collected;
const reader = new PeriodicExportingMetricReader({
  exporter: {
    export(metrics, done) {
      collected = metrics;
      done({ code: 0 });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
    selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
  },
  exportIntervalMillis: 3_600_000,
});
const provider = new MeterProvider({
  resource: resourceFromAttributes({ 'service.name': 'bench' }),
  readers: [reader],
  views: [{ instrumentName: '*', aggregationCardinalityLimit: series + 1 }],
});
const meter = provider.getMeter('bench');
const counter = meter.createCounter('http.server.requests');
const histogram = meter.createHistogram('http.server.duration', {
  advice: { explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 1000, 2500] },
});
const attributes = [];
for (let s = 0; s < series; s++) {
  attributes.push({
    'http.route': `/items/${s}`,
    'http.method': 'GET',
    'http.status_code': 200 + (s % 5),
    host: `h${s % 16}`,
    ok: s % 3 !== 0,
  });
}
const record = (round) => {
  for (let s = 0; s < series; s++) {
    counter.add(1, attributes[s]);
    histogram.record((s + round * 7) % 3000, attributes[s]);
  }
};
const exporter =
  which === 'official'
    ? new OTLPMetricExporter({ url, timeoutMillis: 60_000 })
    : new SluiceMetricExporter({
        url,
        logger: pino({ level: 'warn' }),
        timeoutMillis: 60_000,
        // Defaults unless overridden for experiments (QUEUE_POINTS, WHEN_FULL).
        ...(process.env.QUEUE_POINTS
          ? {
              queue: {
                maxPoints: Number(process.env.QUEUE_POINTS),
                whenFull: process.env.WHEN_FULL ?? 'block',
              },
            }
          : {}),
      });

// Two unmeasured collections and exports first, as in an app after its first minutes (JIT
// warm-up; sluice's attribute cache and batch pool reach their steady state), for both
// exporters. Each collection is a new one, as an app's are: exporting one collection twice
// left the JIT with feedback from a second pass that found everything cached, and the
// measured export then threw that code away.
for (let round = 0; round < 2; round++) {
  record(round);
  await reader.forceFlush();
  await new Promise((resolve) => exporter.export(collected, resolve));
  await exporter.forceFlush();
}
await settle();

// The measured cycle, as in an app after its first minutes: the SDK records and collects
// while the exporter holds what it keeps between exports (sluice: its caches and pools;
// the official exporter: its previous request), then the exporter exports. The kernel's
// peak RSS (VmHWM) is reset before the collection and read after it.
const peakReset = resetPeakRss();
record(2);
await reader.forceFlush();
// The SDK hands the exporter the same attribute objects every collection (sluice caches
// their encoding).
const rm = collected;
const points = rm.scopeMetrics.reduce(
  (n, sm) => n + sm.metrics.reduce((k, m) => k + m.dataPoints.length, 0),
  0,
);
const collectionPeak = peakReset ? peakRssSinceReset() : process.resourceUsage().maxRSS * 1024;
await settle();

await fetch(`http://127.0.0.1:${port}/reset`);
let maxStall = 0;
let last = performance.now();
const rssBefore = process.memoryUsage.rss();
let exportRss = rssBefore;
// VmHWM restarts from here too, so the export's true peak is read after it even if the
// export holds the event loop and no sample below runs (the official one does).
resetPeakRss();
const watch = setInterval(() => {
  const now = performance.now();
  maxStall = Math.max(maxStall, now - last);
  last = now;
  exportRss = Math.max(exportRss, process.memoryUsage.rss());
}, 1);

const cpu = process.cpuUsage();
const started = performance.now();
last = started;
const result = await new Promise((resolve) => exporter.export(rm, resolve));
const exportReturned = performance.now() - started;
await exporter.forceFlush();
const wall = performance.now() - started;
const used = process.cpuUsage(cpu);
clearInterval(watch);
// The last interval gap (from the final tick to now) counts too.
maxStall = Math.max(maxStall, performance.now() - last);
exportRss = Math.max(exportRss, process.memoryUsage.rss(), peakReset ? peakRssSinceReset() : 0);
const cyclePeakRss = Math.max(collectionPeak, exportRss);
await exporter.shutdown();
await provider.shutdown();
process.send?.({
  which,
  series,
  points,
  ok: result.code === 0,
  wallMs: wall,
  exportCallbackMs: exportReturned,
  maxStallMs: maxStall,
  cpuMs: (used.user + used.system) / 1000,
  cyclePeakRssBytes: cyclePeakRss,
  rssBeforeBytes: rssBefore,
  exportPeakRssBytes: exportRss,
});
process.exit(0);

/**
 * A full collection, then a second of quiet, as an app has between exports: V8 and the
 * allocator give freed pages back in the background, and measuring right after a collection
 * counted up to ~35 MB that were about to go (process.memoryUsage().rss and
 * /proc/self/smaps_rollup read 426 vs 391 MB a few milliseconds apart). The CPU the
 * collector spends on earlier garbage then does not count as the export's either.
 */
async function settle() {
  globalThis.gc?.();
  await new Promise((resolve) =>
    setTimeout(resolve, Number(process.env.EXPORTER_SETTLE_MS ?? 1000)),
  );
}

/** Linux: writing 5 to clear_refs resets VmHWM to the current RSS (false where unsupported). */
function resetPeakRss() {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRssSinceReset() {
  const kib = /VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'));
  return kib ? Number(kib[1]) * 1024 : 0;
}
