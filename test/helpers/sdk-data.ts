import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

/**
 * Real `ResourceMetrics` from the official SDK: counters, up-down counters, gauges and
 * histograms (explicit and exponential) with attributes of every kind.
 */
export async function collectSdkMetrics(
  options: { series?: number; temporality?: AggregationTemporality; exponential?: boolean } = {},
): Promise<ResourceMetrics> {
  const series = options.series ?? 20;
  const exporter = new InMemoryMetricExporter(
    options.temporality ?? AggregationTemporality.CUMULATIVE,
  );
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'sluice-test',
      'service.instance.id': 'i-1',
      'host.cores': 2,
      'process.pid': 12345.5,
      'feature.flags': ['a', 'b'],
    }),
    readers: [reader],
    views: options.exponential
      ? [
          {
            instrumentName: 'latency.exp',
            aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM },
          },
        ]
      : [],
  });
  const meter = provider.getMeter('sluice.test', '1.2.3', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
  });
  const counter = meter.createCounter('http.server.requests', {
    description: 'requests',
    unit: '{request}',
  });
  const intCounter = meter.createCounter('bytes.sent', { unit: 'By', valueType: ValueType.INT });
  const upDown = meter.createUpDownCounter('queue.depth');
  const gauge = meter.createGauge('cpu.temperature', { unit: 'Cel' });
  const histogram = meter.createHistogram('http.server.duration', { unit: 'ms' });
  const exp = meter.createHistogram('latency.exp', { unit: 's' });
  for (let s = 0; s < series; s++) {
    const attributes = {
      'http.route': `/api/v1/items/${s}`,
      'http.method': s % 2 ? 'GET' : 'POST',
      'http.status_code': 200 + (s % 5),
      'net.peer.ok': s % 3 === 0,
      ratio: s / 7,
    };
    counter.add(s + 0.5, attributes);
    intCounter.add(s * 1000, attributes);
    upDown.add(-s, attributes);
    gauge.record(36.6 + s, attributes);
    for (let k = 0; k < 5; k++) histogram.record((s * 13 + k * 7) % 1000, attributes);
    for (let k = 0; k < 5; k++) exp.record(((s + 1) * (k + 1)) / 100, attributes);
  }
  await reader.forceFlush();
  const collected = exporter.getMetrics();
  await provider.shutdown();
  return collected[collected.length - 1];
}
