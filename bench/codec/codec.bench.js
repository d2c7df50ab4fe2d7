// OTLP codec throughput: sluice against the official OpenTelemetry JS serializers and the
// protobufjs code generated from the official definitions, on the same SDK data.
import { createRequire } from 'node:module';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import {
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  ResourceMetricsConverter,
} from '../../dist/index.js';
import { runComparisons, table, writeDocsSection } from '../lib/report.js';
import { collect } from './data.js';

const require = createRequire(import.meta.url);
const legacy = require('otlp-transformer-057');
const root = require('otlp-transformer-057/build/src/generated/root.js');
const RefRequest = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

const series = Number(process.env.SERIES ?? 60_000);
const [first, second] = await collect(series);
const points = first.scopeMetrics.reduce(
  (n, s) => n + s.metrics.reduce((k, m) => k + m.dataPoints.length, 0),
  0,
);
const sameAttributes =
  first.scopeMetrics[0].metrics[0].dataPoints[0].attributes ===
  second.scopeMetrics[0].metrics[0].dataPoints[0].attributes;

const official = ProtobufMetricsSerializer.serializeRequest(second);
const batch = new ResourceMetricsConverter().convert(second);
const ours = encodeMetricsRequest(batch);
const json = encodeMetricsRequestJson(batch);
console.log(
  JSON.stringify({
    info: 'data',
    series,
    points,
    node: process.version,
    officialBytes: official.length,
    sluiceBytes: ours.length,
    sdkReusesAttributeObjects: sameAttributes,
  }),
);

// Steady state: the exporter's converter saw the previous collection's attribute objects.
const steady = new ResourceMetricsConverter();
steady.convert(first);

const results = await runComparisons(
  `OTLP codec, ${points} points (${series} counters + ${series} 10-bucket histograms, 5 attributes)`,
  [
    {
      name: 'encode protobuf: MetricBatch → bytes',
      unit: 'points/s',
      work: points,
      ours: () => encodeMetricsRequest(batch),
      baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
      baselineName: 'official ProtobufMetricsSerializer 0.223 (ResourceMetrics → bytes)',
    },
    {
      name: 'ResourceMetrics → bytes, steady state',
      unit: 'points/s',
      work: points,
      ours: () => steady.encode(second),
      baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
      baselineName: 'official ProtobufMetricsSerializer 0.223',
    },
    {
      name: 'ResourceMetrics → bytes, first export',
      unit: 'points/s',
      work: points,
      ours: () => new ResourceMetricsConverter().encode(second),
      baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
      baselineName: 'official ProtobufMetricsSerializer 0.223',
    },
    {
      name: 'ResourceMetrics → bytes, first export (vs 0.57)',
      unit: 'points/s',
      work: points,
      ours: () => new ResourceMetricsConverter().encode(second),
      baseline: () => legacy.ProtobufMetricsSerializer.serializeRequest(second),
      baselineName: 'official ProtobufMetricsSerializer 0.57 (protobufjs)',
    },
    {
      name: 'decode protobuf: bytes → MetricBatch',
      unit: 'points/s',
      work: points,
      ours: () => decodeMetricsRequest(official),
      baseline: () => RefRequest.decode(official),
      baselineName: 'protobufjs decode (official definitions)',
    },
    {
      name: 'encode OTLP/JSON: MetricBatch → text',
      unit: 'points/s',
      work: points,
      ours: () => encodeMetricsRequestJson(batch),
      baseline: () => JsonMetricsSerializer.serializeRequest(second),
      baselineName: 'official JsonMetricsSerializer 0.223',
    },
    {
      name: 'decode OTLP/JSON: text → MetricBatch',
      unit: 'points/s',
      work: points,
      ours: () => decodeMetricsRequestJson(json),
      baseline: () => JSON.parse(json),
      baselineName: 'JSON.parse alone (no OTLP mapping)',
    },
  ],
);

if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'codec',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${process.version}, ${points} points (${series} counters + ${series} 10-bucket histograms, 5 attributes per series), median of tinybench runs. Regenerate with \`npm run bench -- --write-docs\`.`,
      '',
      `Wire size: sluice ${ours.length} bytes, official ${official.length} bytes.`,
      '',
      table(results),
    ].join('\n'),
  );
}
