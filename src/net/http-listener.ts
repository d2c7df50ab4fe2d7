import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { headerLookup, type ListenerProtection, type ServerAuthenticator } from '../model/auth.js';
import { parseListenEndpoint } from '../model/endpoint.js';
import { listen } from './listen.js';
import type { HttpListenerConfig } from './listener-config.js';
import { RefusalLog, type RefusalReason } from './refusal-log.js';
import { listenerTls, type ServerTls, serveWithTls } from './server-tls.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpListenerOptions extends HttpListenerConfig {
  endpoint: string;
  /** The config key of `endpoint`, named in errors (`receivers.otlp.protocols.http.endpoint`). */
  endpointKey: string;
  /** The authenticator `auth.authenticator` names, resolved by the component. */
  authenticator?: ServerAuthenticator;
  logger: Logger;
  /** Counts a refused request or connection (the component's `/metrics` line). */
  onRefused?: (reason: RefusalReason) => void;
}

/**
 * One HTTP or HTTPS listener, as every sluice endpoint needs it: TLS with certificates
 * reloaded while it runs, mutual TLS, an authenticator checked before the handler sees the
 * request, and header/body/idle timeouts so slow clients cannot hold connections open.
 */
export class HttpListener {
  readonly #options: HttpListenerOptions;
  readonly #handler: RequestHandler;
  readonly #refusals: RefusalLog;
  #tls: ServerTls | undefined;
  #server: Server | undefined;

  constructor(options: HttpListenerOptions, handler: RequestHandler) {
    parseListenEndpoint(options.endpoint, options.endpointKey);
    this.#options = options;
    this.#handler = handler;
    this.#refusals = new RefusalLog(options.logger, options.endpointKey, options.onRefused);
  }

  get listening(): boolean {
    return this.#server?.listening ?? false;
  }

  /** The bound address (after `start`), e.g. `127.0.0.1:4318`. */
  get address(): string {
    const bound = this.#server?.address() as AddressInfo | null;
    return bound ? `${bound.address}:${bound.port}` : this.#options.endpoint;
  }

  /** `https://` with TLS, `http://` without. */
  url(path: string): string {
    return `${this.#options.tls ? 'https' : 'http'}://${this.address}${path}`;
  }

  /** This listener and what protects it, for the start-up check of exposed listeners. */
  protection(name: string): ListenerProtection {
    return {
      name,
      address: this.address,
      tls: this.#options.tls !== undefined,
      auth: this.#options.authenticator !== undefined,
    };
  }

  async start(): Promise<void> {
    const { host, port } = parseListenEndpoint(this.#options.endpoint, this.#options.endpointKey);
    const options = this.#options;
    const timeouts = {
      headersTimeout: options.read_header_timeout,
      requestTimeout: Math.max(options.read_timeout, options.read_header_timeout),
      keepAliveTimeout: options.idle_timeout,
      // Node checks the two timeouts above on this period (30 s by default, which would let
      // a stalled client outlive a short timeout by that much).
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, options.read_header_timeout / 2, options.read_timeout / 2),
      ),
    };
    const handle = (req: IncomingMessage, res: ServerResponse) => this.#guard(req, res);
    if (options.tls) {
      const tls = listenerTls(options.tls, options.endpointKey, options.logger);
      this.#tls = tls;
      const server = createHttpsServer(
        { ...tls.contextOptions, ...tls.serverOptions, ...timeouts },
        handle,
      );
      serveWithTls(server, tls, {
        logger: options.logger,
        endpoint: () => this.address,
        onHandshakeRefused: (address) => this.#refusals.refuse('tls_handshake', address),
      });
      this.#server = server;
    } else {
      this.#server = createHttpServer(timeouts, handle);
    }
    await listen(this.#server, port, host);
  }

  /**
   * Stops accepting. `graceful` lets requests in flight finish (their data reaches the
   * pipeline) and closes idle connections; `force` drops every connection at once.
   */
  async close(mode: 'graceful' | 'force' = 'graceful'): Promise<void> {
    this.#tls?.close();
    this.#tls = undefined;
    this.#refusals.flush();
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (mode === 'force') server.closeAllConnections();
      else server.closeIdleConnections();
    });
  }

  #guard(req: IncomingMessage, res: ServerResponse): void {
    const authenticator = this.#options.authenticator;
    if (!authenticator) {
      this.#handler(req, res);
      return;
    }
    const verdict = authenticator.authenticate(headerLookup(req.headers));
    if (verdict === true) this.#handler(req, res);
    else if (verdict === false) this.#unauthorized(req, res, authenticator);
    else
      verdict.then(
        (ok) => (ok ? this.#handler(req, res) : this.#unauthorized(req, res, authenticator)),
        () => this.#unauthorized(req, res, authenticator),
      );
  }

  /** Counts and logs (rate-limited) a request its handler turned away before reading it. */
  refuse(reason: RefusalReason, req: IncomingMessage): void {
    this.#refusals.refuse(reason, req.socket.remoteAddress);
  }

  /** 401 without saying what was wrong; the body is not read, the connection is closed. */
  #unauthorized(req: IncomingMessage, res: ServerResponse, authenticator: ServerAuthenticator) {
    this.#refusals.refuse('unauthenticated', req.socket.remoteAddress);
    res.once('finish', () => req.socket?.destroy());
    res
      .writeHead(401, {
        'content-type': 'text/plain; charset=utf-8',
        connection: 'close',
        ...(authenticator.challenge ? { 'www-authenticate': authenticator.challenge } : {}),
      })
      .end('unauthenticated\n');
  }
}
