import { z } from 'zod';
import { InvalidArgumentError } from './errors.js';

/** `host:port`, `:port` or `[::1]:port`: the listen addresses of receivers and servers. */
const HOST_PORT = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/;

/** A config key holding a listen address; `example` shows the user the expected shape. */
export function listenEndpoint(example: string) {
  const message = `expected host:port, e.g. ${example}`;
  return z.string({ error: message }).regex(HOST_PORT, message);
}

/** `host:port` (or `:port`, or `[::1]:port`) → listen options. */
export function parseListenEndpoint(endpoint: string, key: string): { host: string; port: number } {
  const match = HOST_PORT.exec(endpoint.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new InvalidArgumentError(key, endpoint, 'host:port, e.g. 127.0.0.1:4318');
  }
  const host = match[1] ?? match[2];
  return { host: host === '' ? '0.0.0.0' : host === 'localhost' ? '127.0.0.1' : host, port };
}

/** A NATS server URL, or several comma-separated (a cluster). */
export const natsUrl = z
  .string()
  .regex(
    /^nats:\/\/[^,\s]+(,nats:\/\/[^,\s]+)*$/,
    'expected nats://host:port (comma-separated for several)',
  );

/** A JetStream stream or consumer name (`what` says which, in the error). */
export function natsName(what: string) {
  return z.string().regex(/^[^.\s*>]+$/, `a ${what} name has no dots, spaces, * or >`);
}
