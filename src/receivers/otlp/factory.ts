import { defineReceiver } from '../receiver.js';
import { otlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './otlp-receiver.js';

export const otlpReceiverFactory = defineReceiver({
  type: 'otlp',
  description: 'OTLP metrics over HTTP (protobuf, JSON) and gRPC',
  configSchema: otlpReceiverConfig,
  defaultConfig: {
    protocols: { grpc: { endpoint: '127.0.0.1:4317' }, http: { endpoint: '127.0.0.1:4318' } },
  },
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
});
