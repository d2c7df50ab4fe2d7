import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeMetricsRequest, encodeMetricsRequest } from '/work/main/dist/index.js';

const require = createRequire(import.meta.url);
const root = require('otlp-transformer-057/build/src/generated/root.js');
const Ref = root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
const f = '/tmp/req.bin';
if (!existsSync(f)) {
  const { collect } = await import('/work/main/bench/codec/data.js');
  const { ProtobufMetricsSerializer } = await import('@opentelemetry/otlp-transformer');
  const [, second] = await collect(60000);
  writeFileSync(f, ProtobufMetricsSerializer.serializeRequest(second));
  process.exit(0);
}
const bytes = readFileSync(f);
const N = Number(process.env.N ?? 30);
const batch = decodeMetricsRequest(bytes);
for (const what of (process.argv[2] ?? 'ours,ref,ours,ref,encode').split(',')) {
  const t = performance.now();
  for (let k = 0; k < N; k++)
    what === 'ours'
      ? decodeMetricsRequest(bytes)
      : what === 'ref'
        ? Ref.decode(bytes)
        : encodeMetricsRequest(batch);
  console.log(what, ((performance.now() - t) / N).toFixed(1), 'ms');
}
