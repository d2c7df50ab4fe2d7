import { defineReceiver } from '../receiver.js';
import { remoteWriteReceiverConfig } from './config.js';
import { RemoteWriteReceiver } from './remote-write-receiver.js';

export const remoteWriteReceiverFactory = defineReceiver({
  type: 'prometheusremotewrite',
  description: 'Prometheus remote write 1.0 (snappy protobuf) on POST /api/v1/write',
  configSchema: remoteWriteReceiverConfig,
  defaultConfig: { endpoint: '127.0.0.1:9090' },
  create: (settings, config, next) => new RemoteWriteReceiver(settings, config, next),
});
