import type { ConnectionOptions } from 'nats';
import { clientTlsOptions } from './client-tls.js';
import type { ClientTlsConfig } from './tls-config.js';

/** What the `nats` receiver and exporter share to reach a NATS server or cluster. */
export interface NatsClientConfig {
  /** One or several (comma-separated) `nats://host:port`. */
  url: string;
  user?: string;
  password?: string;
  token?: string;
  tls?: ClientTlsConfig;
}

/**
 * `nats.connect` options: every server of `url`, credentials, TLS from the `tls` block
 * (nats.js hands these to `tls.connect`), and reconnection forever — a NATS server that
 * restarts is a wait, not an error.
 */
export function natsConnectOptions(
  config: NatsClientConfig,
  name: string,
  key: string,
): ConnectionOptions {
  const tls = clientTlsOptions(config.tls, key);
  return {
    servers: config.url.split(','),
    name,
    user: config.user,
    pass: config.password,
    token: config.token,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(tls ? { tls: tls as ConnectionOptions['tls'] } : {}),
  };
}
