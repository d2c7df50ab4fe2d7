// OTLP decoding: sluice against protobufjs code generated from the official definitions.
// The request is made, then every SDK object is dropped: a receiver's heap holds no SDK.
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import {
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  encodeMetricsRequestJson,
  MetricBatch,
} from '../../dist/index.js';
import { runComparisons, table, writeDocsSection } from '../lib/report.js';
import { collect, countPoints, RefRequest, requestObjectPoints, SERIES } from './data.js';

/** Points in what a decoder returned: a MetricBatch, or the reference's request object. */
const decodedPoints = (output) =>
  output instanceof MetricBatch ? output.pointCount : requestObjectPoints(output);

const { bytes, points } = await (async () => {
  const [, second] = await collect(SERIES);
  return { bytes: ProtobufMetricsSerializer.serializeRequest(second), points: countPoints(second) };
})();
const json = encodeMetricsRequestJson(decodeMetricsRequest(bytes));
globalThis.gc?.();
console.log(
  JSON.stringify({
    info: 'decode data',
    points,
    protobufBytes: bytes.length,
    jsonBytes: json.length,
  }),
);

const recycled = new MetricBatch();
const results = await runComparisons(`OTLP decoding, ${points} points`, [
  {
    name: 'decode protobuf: bytes → MetricBatch',
    unit: 'points/s',
    work: points,
    check: decodedPoints,
    ours: () => decodeMetricsRequest(bytes),
    baseline: () => RefRequest.decode(bytes),
    baselineName: 'protobufjs decode (official definitions)',
  },
  {
    name: 'decode protobuf into a recycled batch',
    unit: 'points/s',
    work: points,
    check: decodedPoints,
    ours: () => decodeMetricsRequest(bytes, recycled.clear()),
    baseline: () => RefRequest.decode(bytes),
    baselineName: 'protobufjs decode (official definitions)',
  },
  {
    name: 'decode OTLP/JSON: text → MetricBatch',
    unit: 'points/s',
    work: points,
    check: decodedPoints,
    ours: () => decodeMetricsRequestJson(json),
    baseline: () => RefRequest.fromObject(JSON.parse(json)),
    baselineName: 'JSON.parse + protobufjs fromObject',
  },
]);

if (process.argv.includes('--write-docs')) {
  writeDocsSection(
    'codec-decode',
    [
      `${points} points, protobuf ${bytes.length} bytes, JSON ${json.length} bytes, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
      '',
      table(results),
    ].join('\n'),
  );
}
