// OTLP encoding: sluice against the official OpenTelemetry JS serializers on the same SDK
// data, both with that data live in the heap (as in an application that exports metrics).
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import legacy from 'otlp-transformer-057';
import {
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  MetricsRequestEncoder,
  ResourceMetricsConverter,
  SdkRequestEncoder,
} from '../../dist/index.js';
import { latestTransformer } from '../lib/latest-transformer.js';
import { runComparisons, table, writeDocsSection } from '../lib/report.js';
import { collect, countPoints, encodedPoints, SERIES } from './data.js';

const [first, second] = await collect(SERIES);
const points = countPoints(second);
const official = ProtobufMetricsSerializer.serializeRequest(second);
const batch = new ResourceMetricsConverter().convert(second);
const ours = encodeMetricsRequest(batch);
const sameAttributes =
  first.scopeMetrics[0].metrics[0].dataPoints[0].attributes ===
  second.scopeMetrics[0].metrics[0].dataPoints[0].attributes;
console.log(
  JSON.stringify({
    info: 'encode data',
    series: SERIES,
    points,
    node: process.version,
    officialBytes: official.length,
    sluiceBytes: ours.length,
    sdkReusesAttributeObjects: sameAttributes,
  }),
);

// Steady state: this converter already saw the previous collection's attribute objects.
const steady = new ResourceMetricsConverter();
steady.convert(first);
const reused = new MetricsRequestEncoder();
// The SDK exporter's path: requests written straight from the SDK data, into one buffer here.
const requests = new SdkRequestEncoder();
const requestBuffer = Buffer.allocUnsafeSlow(2 * official.length);
const requestOptions = {
  maxPoints: points,
  maxBytes: requestBuffer.length,
  pace: () => undefined,
  buffer: () => requestBuffer,
  onRequest: () => {},
};
await requests.encode(first, requestOptions);
/** One SdkRequestEncoder pass; resolves to the bytes of its one request, for the check. */
const encodeRequest = async () => {
  let bytes;
  await requests.encode(second, { ...requestOptions, onRequest: (r) => (bytes = r.bytes) });
  return bytes;
};
const officialName = 'official ProtobufMetricsSerializer 0.223';
const latest = latestTransformer();
const latestName = latest && `official ProtobufMetricsSerializer ${latest.version}`;
/** The same case against the newest official serializer (when it could be installed). */
const againstLatest = (c) =>
  latest
    ? [
        {
          ...c,
          baseline: () => latest.ProtobufMetricsSerializer.serializeRequest(second),
          baselineName: latestName,
        },
      ]
    : [];

const cases = [
  {
    name: 'encode protobuf: MetricBatch → bytes',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => encodeMetricsRequest(batch),
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'encode protobuf into a reused buffer',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => reused.encode(batch),
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'ResourceMetrics → bytes, steady state',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => steady.encode(second),
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'ResourceMetrics → reused buffer, steady',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => steady.encode(second, reused),
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'ResourceMetrics → request (SdkRequestEncoder)',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: encodeRequest,
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'ResourceMetrics → bytes, first export',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => new ResourceMetricsConverter().encode(second),
    baseline: () => ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: officialName,
  },
  {
    name: 'ResourceMetrics → bytes, first export',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => new ResourceMetricsConverter().encode(second),
    baseline: () => legacy.ProtobufMetricsSerializer.serializeRequest(second),
    baselineName: 'official ProtobufMetricsSerializer 0.57 (protobufjs)',
  },
  {
    name: 'encode OTLP/JSON: MetricBatch → text',
    unit: 'points/s',
    work: points,
    check: encodedPoints,
    ours: () => encodeMetricsRequestJson(batch),
    baseline: () => JsonMetricsSerializer.serializeRequest(second),
    baselineName: 'official JsonMetricsSerializer 0.223',
  },
];
// The three protobuf paths again, against the newest official serializer.
cases.splice(
  2,
  0,
  ...againstLatest(cases[0]),
  ...againstLatest(cases[1]),
  ...againstLatest(cases[4]),
);
const results = await runComparisons(`OTLP encoding, ${points} points`, cases);

if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'codec-encode',
    [
      `${points} points (${SERIES} counters + ${SERIES} 10-bucket histograms, 5 attributes per series), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}. Wire size: sluice ${ours.length} bytes, official ${official.length} bytes.`,
      '',
      table(results),
    ].join('\n'),
  );
}
