import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { UnusableFileError } from '../model/errors.js';
import { nodeTlsVersion, type ServerTlsConfig } from './tls-config.js';
import { WatchedFile } from './watched-file.js';

const asBytes = (bytes: Buffer) => bytes;

/**
 * A listener's certificate, key and client CA, read from their files and read again when a
 * file changes. A set that does not make a working context (a new certificate whose key has
 * not been written yet) is not swapped in: the listener keeps serving with the last good one,
 * and the next change tries again.
 */
export class ServerTls {
  /** The listener asks for client certificates and refuses connections without a valid one. */
  readonly mutual: boolean;
  readonly #config: ServerTlsConfig;
  readonly #files: WatchedFile<Buffer>[];
  readonly #listeners = new Set<(options: SecureContextOptions) => void>();
  readonly #onError: (error: Error) => void;
  #current: SecureContextOptions;

  /** Reads the files now: a missing file or a key that does not fit its certificate throws. */
  constructor(config: ServerTlsConfig, onError: (error: Error) => void) {
    this.#config = config;
    this.#onError = onError;
    this.mutual = config.client_ca_file !== undefined;
    const watch = (path: string) =>
      new WatchedFile(path, {
        parse: asBytes,
        intervalMs: config.reload_interval,
        onChange: () => this.#reload(),
        onError,
      });
    this.#files = [config.cert_file, config.key_file, config.client_ca_file]
      .filter((path) => path !== undefined)
      .map(watch);
    try {
      this.#current = this.#contextOptions();
      createSecureContext(this.#current);
    } catch (err) {
      this.close();
      throw new UnusableFileError(
        `tls: ${config.cert_file} and ${config.key_file} do not make a usable certificate: ${(err as Error).message}`,
      );
    }
  }

  /** The options of the certificate in use, for `createServer` and `setSecureContext`. */
  get contextOptions(): SecureContextOptions {
    return this.#current;
  }

  /** Options for `https.createServer`/`http2.createSecureServer` beyond the context. */
  get serverOptions(): { requestCert: boolean; rejectUnauthorized: boolean } {
    return { requestCert: this.mutual, rejectUnauthorized: this.mutual };
  }

  /** Calls `listener` with the new context options each time the certificate changes. */
  onReload(listener: (options: SecureContextOptions) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    for (const file of this.#files ?? []) file.close();
  }

  #contextOptions(): SecureContextOptions {
    const [cert, key, ca] = this.#files.map((file) => file.value);
    return { cert, key, ca, minVersion: nodeTlsVersion(this.#config.min_version) };
  }

  #reload(): void {
    const options = this.#contextOptions();
    try {
      createSecureContext(options);
    } catch (err) {
      this.#onError(
        new UnusableFileError(
          `tls: the changed certificate files were not loaded: ${(err as Error).message}`,
        ),
      );
      return;
    }
    this.#current = options;
    for (const listener of this.#listeners) listener(options);
  }
}

/**
 * The certificate of the listener whose endpoint is at config key `endpointKey`; a file
 * problem names the `tls` key beside it.
 */
export function listenerTls(
  config: ServerTlsConfig,
  endpointKey: string,
  logger: Logger,
): ServerTls {
  const key = endpointKey.replace(/\.(endpoint|address)$/, '.tls');
  try {
    return new ServerTls(config, (error) =>
      logger.error({ error: error.message, key }, 'could not reload the TLS certificate'),
    );
  } catch (err) {
    throw new UnusableFileError(`${key}: ${(err as Error).message}`);
  }
}

/**
 * Keeps a TLS `server` (HTTPS or HTTP/2) on `tls`'s certificate: each one reloaded is swapped
 * in and said in the log, and each failed handshake is reported with the peer's address.
 */
export function serveWithTls(
  server: TlsServer,
  tls: ServerTls,
  options: {
    logger: Logger;
    endpoint: () => string;
    onHandshakeRefused: (address: string | undefined) => void;
  },
): void {
  tls.onReload((context) => {
    server.setSecureContext(context);
    options.logger.info({ endpoint: options.endpoint() }, 'reloaded the TLS certificate');
  });
  server.on('tlsClientError', (_error, socket) => options.onHandshakeRefused(socket.remoteAddress));
}
