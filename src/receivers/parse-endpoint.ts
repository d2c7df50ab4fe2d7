import { InvalidMetricDataError } from '../model/errors.js';

/** `host:port` (or `:port`, or `[::1]:port`) → listen options. */
export function parseListenEndpoint(endpoint: string, key: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(endpoint.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new InvalidMetricDataError(
      `${key}: "${endpoint}" is not host:port (e.g. 127.0.0.1:4318)`,
    );
  }
  const host = match[1] ?? match[2];
  return { host: host === '' ? '0.0.0.0' : host === 'localhost' ? '127.0.0.1' : host, port };
}
