import type { Attributes, Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ViewOptions,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import type { QueuedExporter } from '../../src/exporters/helper/queued-exporter.js';
import type { ComponentFactory } from '../../src/model/component-factory.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';

/** A factory's `create`, bound to `raw` as a config file would give it (throws when invalid). */
export function configured<Create>(factory: ComponentFactory<Create>, raw: unknown): Create {
  const result = factory.configure(raw);
  if (!result.ok) throw new Error(result.issues.map((issue) => issue.message).join('; '));
  return result.create;
}

/** A collector from a YAML config, started, logging nothing. */
export async function startCollector(yaml: string): Promise<Collector> {
  const collector = new Collector(parseConfig(yaml), pino({ level: 'silent' }));
  await collector.start();
  return collector;
}

/**
 * A started collector whose OTLP/HTTP receiver (free port) feeds the one exporter
 * `type: <settings>`; `settings` is YAML indented by four spaces.
 */
export function otlpInto(type: string, settings: string): Promise<Collector> {
  return startCollector(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  ${type}:
${settings}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [${type}] }
`);
}

export function queuedExporter(collector: Collector, id: string): QueuedExporter {
  return collector.exporters.get(id) as QueuedExporter;
}

/** Where the collector's `otlp` receiver takes OTLP/HTTP metrics. */
export function otlpHttpUrl(collector: Collector): string {
  const receiver = collector.receivers.get('otlp') as unknown as OtlpReceiver;
  return `http://${receiver.http!.address}/v1/metrics`;
}

/**
 * Real SDK data: a MeterProvider with `resource`, whose instruments `record` fills, exported
 * once by the official OTLP/HTTP protobuf exporter to `url` (shutdown collects and exports).
 */
export async function recordWithSdk(
  url: string,
  resource: Attributes,
  record: (meter: Meter) => void,
  options: {
    views?: ViewOptions[];
    temporality?: AggregationTemporality;
    meterVersion?: string;
  } = {},
): Promise<void> {
  const exporter = new OTLPMetricExporter({
    url,
    temporalityPreference: options.temporality ?? AggregationTemporality.CUMULATIVE,
  });
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes(resource),
    readers: [reader],
    views: options.views,
  });
  record(provider.getMeter('app', options.meterVersion));
  await provider.shutdown();
}

/** A started collector: `prometheusremotewrite` receiver (free port) → OTLP/HTTP to `sinkUrl`. */
export async function remoteWriteInto(
  sinkUrl: string,
): Promise<{ collector: Collector; writeUrl: string }> {
  const collector = await startCollector(`
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
exporters:
  otlphttp:
    metrics_endpoint: ${sinkUrl}
    batch: { flush_interval: 10ms }
service:
  pipelines:
    metrics: { receivers: [prometheusremotewrite], exporters: [otlphttp] }
`);
  const receiver = collector.receivers.get('prometheusremotewrite') as unknown as {
    address: string;
  };
  return { collector, writeUrl: `http://${receiver.address}/api/v1/write` };
}
