import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

const quiet = pino({ level: 'silent' });
let sink: OtlpSink;
let collector: Collector;

beforeEach(async () => {
  sink = new OtlpSink();
  await sink.start();
  const config = parseConfig(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
      grpc:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 20ms
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch:
      flush_interval: 10ms
service:
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
`);
  collector = new Collector(config, quiet);
  await collector.start();
});

afterEach(async () => {
  await collector.shutdown(2_000);
  await sink.stop();
});

function receiver(): OtlpReceiver {
  return collector.receivers.get('otlp') as unknown as OtlpReceiver;
}

async function recordThrough(exporter: PushMetricExporter): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const meter = provider.getMeter('app');
  meter.createCounter('orders').add(5, { region: 'eu' });
  meter.createHistogram('latency', { unit: 'ms' }).record(42, { region: 'eu' });
  await reader.forceFlush();
  await provider.shutdown();
}

async function delivered(): Promise<Map<string, unknown>> {
  const until = Date.now() + 5_000;
  while (sink.accepted.length === 0 && Date.now() < until)
    await new Promise((r) => setTimeout(r, 10));
  const found = new Map<string, unknown>();
  for (const r of sink.accepted) {
    for (const m of r.request.resourceMetrics[0].scopeMetrics[0].metrics)
      found.set(m.name, m.sum?.dataPoints[0].asDouble ?? m.histogram?.dataPoints[0].sum);
  }
  return found;
}

describe('collector end to end with the official OTLP exporters as clients', () => {
  it('OTLP/HTTP protobuf in, OTLP/HTTP out', async () => {
    await recordThrough(
      new ProtoExporter({ url: `http://${receiver().http!.address}/v1/metrics` }),
    );
    expect(await delivered()).toEqual(
      new Map<string, unknown>([
        ['orders', 5],
        ['latency', 42],
      ]),
    );
  });

  it('OTLP/HTTP JSON in', async () => {
    await recordThrough(new JsonExporter({ url: `http://${receiver().http!.address}/v1/metrics` }));
    expect(await delivered()).toEqual(
      new Map<string, unknown>([
        ['orders', 5],
        ['latency', 42],
      ]),
    );
  });

  it('OTLP/gRPC in', async () => {
    await recordThrough(new GrpcExporter({ url: `http://${receiver().grpc!.address}` }));
    expect(await delivered()).toEqual(
      new Map<string, unknown>([
        ['orders', 5],
        ['latency', 42],
      ]),
    );
  });

  it('refuses bad bodies with 400 and the decoder message, and counts them', async () => {
    const response = await fetch(`http://${receiver().http!.address}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":{"dataPoints":[{"asInt":"nope"}]}}]}]}]}',
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { message: string }).message).toContain(
      'asInt: expected a signed 64-bit integer',
    );
    expect(receiver().http!.stats.malformed).toBe(1);
    const wrongType = await fetch(`http://${receiver().http!.address}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(wrongType.status).toBe(415);
  });
});
