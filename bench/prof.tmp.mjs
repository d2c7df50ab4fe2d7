import {
  decodeMetricsRequest,
  encodeMetricsRequest,
  ResourceMetricsConverter,
} from '/work/main/dist/index.js';

const N = Number(process.env.N ?? 60);

import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { collect } from '/work/main/bench/codec/data.js';

const [first, second] = await collect(60000);
const batch = new ResourceMetricsConverter().convert(second);
console.log('points', batch.pointCount);
const what = process.argv[2];
const steady = new ResourceMetricsConverter();
steady.convert(first);
const bytes = encodeMetricsRequest(batch);
const t = performance.now();
for (let k = 0; k < N; k++) {
  if (what === 'encode') encodeMetricsRequest(batch);
  else if (what === 'steady') steady.encode(second);
  else if (what === 'decode') decodeMetricsRequest(bytes);
  else if (what === 'official') ProtobufMetricsSerializer.serializeRequest(second);
  else new ResourceMetricsConverter().convert(second);
}
console.log(what, ((performance.now() - t) / N).toFixed(2), 'ms per op');
