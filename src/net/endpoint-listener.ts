import type { AddressInfo, Server, Socket } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { ListenerProtection, ServerAuthenticator } from '../model/auth.js';
import { parseListenEndpoint } from '../model/endpoint.js';
import { listen } from './listen.js';
import type { HttpListenerConfig } from './listener-config.js';
import { RefusalLog, type RefusalReason } from './refusal-log.js';
import { listenerTls, type ServerTls, serveWithTls } from './server-tls.js';
import type { ServerTlsConfig } from './tls-config.js';

/** What every listener takes: its endpoint, TLS and auth, and where to report. */
export interface EndpointListenerOptions {
  endpoint: string;
  /** The config key of `endpoint`, named in errors (`receivers.otlp.protocols.http.endpoint`). */
  endpointKey: string;
  tls?: ServerTlsConfig;
  /** The authenticator `auth.authenticator` names, resolved by the component. */
  authenticator?: ServerAuthenticator;
  logger: Logger;
  /** Counts a refused request or connection (the component's `/metrics` line). */
  onRefused?: (reason: RefusalReason) => void;
}

/**
 * What `HttpListener` (on `node:http`), `BodyListener` (on its own HTTP/1.1) and
 * `GrpcUnaryListener` (on its own HTTP/2) share: the endpoint checked at construction, the
 * bound address, TLS with the certificate reloaded and failed handshakes counted, and the log
 * of refused clients.
 */
export abstract class EndpointListener<Options extends EndpointListenerOptions> {
  protected readonly options: Options;
  protected readonly refusals: RefusalLog;
  protected server: Server | undefined;
  #tls: ServerTls | undefined;

  constructor(options: Options) {
    parseListenEndpoint(options.endpoint, options.endpointKey);
    this.options = options;
    this.refusals = new RefusalLog(options.logger, options.endpointKey, options.onRefused);
  }

  get listening(): boolean {
    return this.server?.listening ?? false;
  }

  /** The bound address (after `start`), e.g. `127.0.0.1:4318`. */
  get address(): string {
    const bound = this.server?.address() as AddressInfo | null;
    return bound ? `${bound.address}:${bound.port}` : this.options.endpoint;
  }

  /** `https://` with TLS, `http://` without. */
  url(path: string): string {
    return `${this.options.tls ? 'https' : 'http'}://${this.address}${path}`;
  }

  /** This listener and what protects it, for the start-up check of exposed listeners. */
  protection(name: string): ListenerProtection {
    return {
      name,
      address: this.address,
      tls: this.options.tls !== undefined,
      auth: this.options.authenticator !== undefined,
    };
  }

  /** Counts and logs (rate-limited) a request its handler turned away before reading it. */
  refuse(reason: RefusalReason, peer: string | undefined): void {
    this.refusals.refuse(reason, peer);
  }

  /** A connection closed for an error of this side's own code (a bug), said in the log. */
  protected connectionFailed(error: Error, socket: Socket): void {
    this.options.logger.error(
      {
        error: error.message,
        stack: error.stack,
        peer: socket.remoteAddress,
        endpoint: this.address,
      },
      'a connection failed on an error of its own (a bug); it was closed',
    );
  }

  /**
   * Listens on the endpoint with the server `make` returns: given the certificate when the
   * listener has `tls` (it must then make a TLS server), undefined without.
   */
  protected async listenWith(make: (tls: ServerTls | undefined) => Server): Promise<void> {
    const options = this.options;
    const { host, port } = parseListenEndpoint(options.endpoint, options.endpointKey);
    const tls = options.tls
      ? listenerTls(options.tls, options.endpointKey, options.logger)
      : undefined;
    this.#tls = tls;
    const server = make(tls);
    if (tls)
      serveWithTls(server as TlsServer, tls, {
        logger: options.logger,
        endpoint: () => this.address,
        onHandshakeRefused: (address) => this.refusals.refuse('tls_handshake', address),
      });
    this.server = server;
    await listen(server, port, host);
  }

  /** Stops reloading the certificate and takes the server away: the caller closes it. */
  protected stopListening(): Server | undefined {
    this.#tls?.close();
    this.#tls = undefined;
    this.refusals.flush();
    const server = this.server;
    this.server = undefined;
    return server;
  }
}

/** The fields of a 401: no word on what was wrong, the authenticator's challenge if it has one. */
export function unauthorizedHeaders(authenticator: ServerAuthenticator): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    ...(authenticator.challenge ? { 'www-authenticate': authenticator.challenge } : {}),
  };
}

/**
 * How often a listener looks for a late head or body: often enough that a short timeout is
 * not outlived by much (Node's own default, 30 s, would be), at most once every 50 ms.
 */
export function timeoutCheckInterval(options: HttpListenerConfig): number {
  return Math.max(50, Math.min(1000, options.read_header_timeout / 2, options.read_timeout / 2));
}
