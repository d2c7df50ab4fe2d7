import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { headerLookup, type ServerAuthenticator } from '../model/auth.js';
import {
  EndpointListener,
  type EndpointListenerOptions,
  timeoutCheckInterval,
  unauthorizedHeaders,
} from './endpoint-listener.js';
import type { HttpListenerConfig } from './listener-config.js';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export type HttpListenerOptions = EndpointListenerOptions & HttpListenerConfig;

/**
 * One HTTP or HTTPS listener, as every sluice endpoint needs it: TLS with certificates
 * reloaded while it runs, mutual TLS, an authenticator checked before the handler sees the
 * request, and header/body/idle timeouts so slow clients cannot hold connections open.
 */
export class HttpListener extends EndpointListener<HttpListenerOptions> {
  readonly #handler: RequestHandler;

  constructor(options: HttpListenerOptions, handler: RequestHandler) {
    super(options);
    this.#handler = handler;
  }

  start(): Promise<void> {
    const options = this.options;
    const timeouts = {
      headersTimeout: options.read_header_timeout,
      requestTimeout: Math.max(options.read_timeout, options.read_header_timeout),
      keepAliveTimeout: options.idle_timeout,
      // Node checks the two timeouts above on this period (30 s by default).
      connectionsCheckingInterval: timeoutCheckInterval(options),
    };
    const handle = (req: IncomingMessage, res: ServerResponse) => this.#guard(req, res);
    return this.listenWith((tls) =>
      tls
        ? createHttpsServer({ ...tls.contextOptions, ...tls.serverOptions, ...timeouts }, handle)
        : createHttpServer(timeouts, handle),
    );
  }

  /**
   * Stops accepting. `graceful` lets requests in flight finish (their data reaches the
   * pipeline) and closes idle connections; `force` drops every connection at once.
   */
  async close(mode: 'graceful' | 'force' = 'graceful'): Promise<void> {
    const server = this.stopListening() as Server | undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      if (mode === 'force') server.closeAllConnections();
      else server.closeIdleConnections();
    });
  }

  #guard(req: IncomingMessage, res: ServerResponse): void {
    const authenticator = this.options.authenticator;
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

  /** 401 without saying what was wrong; the body is not read, the connection is closed. */
  #unauthorized(req: IncomingMessage, res: ServerResponse, authenticator: ServerAuthenticator) {
    this.refusals.refuse('unauthenticated', req.socket.remoteAddress);
    res.once('finish', () => req.socket?.destroy());
    res
      .writeHead(401, { ...unauthorizedHeaders(authenticator), connection: 'close' })
      .end('unauthenticated\n');
  }
}
