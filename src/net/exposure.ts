import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { ListenerProtection } from '../model/auth.js';

/** Whether `host:port` (or `[v6]:port`) binds a loopback address only. */
export function isLoopback(address: string): boolean {
  const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * Warns once per listener anyone on the network can reach and read or write in plain text
 * with no credentials: bound beyond loopback with neither TLS nor an authenticator. sluice
 * does not refuse to start (a private network may be the user's choice).
 */
export function warnAboutExposedListeners(
  listeners: Iterable<ListenerProtection>,
  logger: Logger,
): void {
  for (const l of listeners) {
    if (isLoopback(l.address) || l.tls || l.auth) continue;
    logger.warn(
      { listener: l.name, address: l.address },
      'listening beyond loopback without TLS or auth: anyone who can reach this address can send or read data (set tls and auth, or bind 127.0.0.1)',
    );
  }
}
