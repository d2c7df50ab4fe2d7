import { defineReceiver } from '../receiver.js';
import { otlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './otlp-receiver.js';

export const otlpReceiverFactory = defineReceiver({
  type: 'otlp',
  description: 'OTLP metrics over HTTP (protobuf, JSON) and gRPC',
  configSchema: otlpReceiverConfig,
  requiredConfig: { protocols: { grpc: null, http: null } },
  create: (settings, config, next) => new OtlpReceiver(settings, config, next),
});
