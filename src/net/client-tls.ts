import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientAuthenticator } from '../model/auth.js';
import type { ComponentSettings } from '../model/consumer.js';
import { UnusableFileError } from '../model/errors.js';
import { clientAuthenticator } from './resolve-auth.js';
import { type AuthReference, type ClientTlsConfig, nodeTlsVersion } from './tls-config.js';

/** How an exporter reaches its backend: TLS options for its connections, and credentials. */
export interface ClientTransport {
  /** `node:tls` connect options; undefined connects as the URL says with system CAs. */
  tls?: ConnectionOptions;
  auth?: ClientAuthenticator;
}

/**
 * `node:tls` connect options for an exporter's `tls` block (undefined without one, or with
 * `insecure: true`). Files are read now, so a wrong path fails when the collector is built.
 */
export function clientTlsOptions(
  tls: ClientTlsConfig | undefined,
  key: string,
): ConnectionOptions | undefined {
  if (!tls || tls.insecure) return undefined;
  const read = (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UnusableFileError(
        `${key}: cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  };
  return {
    ca: read(tls.ca_file, 'CA file'),
    cert: read(tls.cert_file, 'certificate'),
    key: read(tls.key_file, 'private key'),
    rejectUnauthorized: !tls.insecure_skip_verify,
    servername: tls.server_name_override,
    minVersion: nodeTlsVersion(tls.min_version),
  };
}

/** An exporter's `tls` and `auth` blocks, resolved: what its sender connects with. */
export function clientTransport(
  settings: ComponentSettings,
  config: { tls?: ClientTlsConfig; auth?: AuthReference },
): ClientTransport {
  const where = `exporters.${settings.id}`;
  return {
    tls: clientTlsOptions(config.tls, `${where}.tls`),
    auth: clientAuthenticator(settings, config.auth, `${where}.auth`),
  };
}
