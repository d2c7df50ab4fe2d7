import { defineReceiver } from '../receiver.js';
import { natsReceiverConfig } from './config.js';
import { NatsReceiver } from './nats-receiver.js';

export const natsReceiverFactory = defineReceiver({
  type: 'nats',
  description:
    'OTLP requests from a durable NATS JetStream pull consumer, acked once sent, or snapshotted',
  configSchema: natsReceiverConfig,
  defaultConfig: { url: 'nats://127.0.0.1:4222' },
  create: (settings, config, next) => new NatsReceiver(settings, config, next),
});
