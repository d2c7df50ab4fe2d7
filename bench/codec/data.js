import { createRequire } from 'node:module';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const BOUNDARIES = [5, 10, 25, 50, 100, 250, 500, 1000, 2500]; // 10 buckets

/**
 * Real SDK output for the codec benchmark: `series` counters and `series` histograms with
 * 10 buckets, 5 attributes per series. Returns two successive collections, as an exporter
 * sees them (the SDK hands the same attribute objects to both).
 */
export async function collect(series) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: 3_600_000,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'bench',
      'service.instance.id': 'bench-1',
      'host.name': 'bench-host',
    }),
    readers: [reader],
    // The SDK keeps 2000 series per instrument by default; the benchmark wants them all.
    views: [{ instrumentName: '*', aggregationCardinalityLimit: series + 1 }],
  });
  const meter = provider.getMeter('sluice.bench', '1.0.0');
  const counter = meter.createCounter('http.server.requests', { unit: '{request}' });
  const histogram = meter.createHistogram('http.server.duration', {
    unit: 'ms',
    advice: { explicitBucketBoundaries: BOUNDARIES },
  });
  const attributes = [];
  for (let s = 0; s < series; s++) {
    attributes.push({
      'http.route': `/api/v1/items/${s}`,
      'http.method': METHODS[s % 4],
      'http.status_code': 200 + (s % 5),
      'server.address': `node-${s % 16}.internal`,
      'net.sock.peer.ok': s % 3 !== 0,
    });
  }
  const record = (round) => {
    for (let s = 0; s < series; s++) {
      counter.add(1 + round, attributes[s]);
      histogram.record((s * 37 + round * 11) % 3000, attributes[s]);
    }
  };
  record(0);
  await reader.forceFlush();
  record(1);
  await reader.forceFlush();
  const collections = exporter.getMetrics();
  await provider.shutdown();
  return collections;
}

export const SERIES = Number(process.env.SERIES ?? 60_000);

export function countPoints(resourceMetrics) {
  let n = 0;
  for (const scope of resourceMetrics.scopeMetrics)
    for (const metric of scope.metrics) n += metric.dataPoints.length;
  return n;
}

const require = createRequire(import.meta.url);
const root = require('otlp-transformer-057/build/src/generated/root.js');
/** protobufjs code generated from the official opentelemetry-proto definitions. */
export const RefRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

/** Points in a request object (protobufjs form or OTLP/JSON), counted by the reference. */
export function requestObjectPoints(request) {
  let n = 0;
  for (const rm of request.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? [])
      for (const metric of sm.metrics ?? []) {
        const data =
          metric.gauge ??
          metric.sum ??
          metric.histogram ??
          metric.exponentialHistogram ??
          metric.summary;
        n += data?.dataPoints?.length ?? 0;
      }
  return n;
}

/** Points in OTLP protobuf bytes, decoded by the reference, or in OTLP/JSON (text or bytes). */
export function encodedPoints(output) {
  // A protobuf request starts with field 1 (0x0a), an OTLP/JSON one with `{`.
  const json = typeof output === 'string' || output[0] === 0x7b;
  return json
    ? requestObjectPoints(JSON.parse(Buffer.from(output).toString()))
    : requestObjectPoints(RefRequest.decode(output));
}
