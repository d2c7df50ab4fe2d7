import type { Socket } from 'node:net';
import type { ServerAuthenticator } from '../../model/auth.js';
import {
  EndpointListener,
  type EndpointListenerOptions,
  timeoutCheckInterval,
  unauthorizedHeaders,
} from '../endpoint-listener.js';
import type { HttpListenerConfig } from '../listener-config.js';
import { OpenConnections } from '../open-connections.js';
import { type ConnectionReader, readingServer } from '../reading-into.js';
import {
  type Admission,
  BodyConnection,
  type ConnectionHost,
  READ_BODY,
} from './body-connection.js';
import type { Reply } from './reply.js';
import type { HeadError, RequestHead } from './request-head.js';

/** What a `BodyListener` serves: requests whose bodies it reads whole. */
export interface BodyHandler {
  /** A reply refusing the request before its body is read (404, 415, 429), or undefined. */
  check(head: RequestHead, peer: string | undefined): Reply | undefined;
  /** The reply to a body over the limit (the connection is then closed). */
  tooLarge(head: RequestHead, message: string): Reply;
  /** Handles a whole body: a block of `requestBytes`, the handler's to give back or carry on. */
  handle(head: RequestHead, body: Buffer, peer: string | undefined): Promise<Reply>;
}

export interface BodyListenerOptions extends EndpointListenerOptions, HttpListenerConfig {
  /** The largest body read; the handler's `tooLarge` answers a larger one. */
  maxBodySize: number;
}

/** Bytes a plain connection's socket reads into, shared: a read is handled before the next. */
const READ_BUFFER_BYTES = 64 * 1024;

/**
 * The HTTP/1.1 listener of the receivers, whose every request is a body to take whole
 * (`POST /v1/metrics`, `POST /api/v1/write`). It does what `HttpListener` does for them
 * (TLS with reloaded certificates, mutual TLS, an authenticator checked before the body is
 * read, the `read_header_timeout` / `read_timeout` / `idle_timeout` bounds) without
 * `node:http`, whose parser copies every piece of a body into a fresh buffer and whose
 * request and response are streams with their events. Here a plain connection's socket reads
 * into one buffer the listener keeps, and the body is copied from it once, into the request
 * buffers it is carried on in. `bench/listener` measures it against `node:http` reading
 * bodies as the receivers did: 64-68 µs of CPU a 213 KB request against 250-480.
 *
 * Heads are parsed strictly (`parseRequestHead`); replies are whole (`Reply`).
 */
export class BodyListener extends EndpointListener<BodyListenerOptions> implements ConnectionHost {
  readonly #handler: BodyHandler;
  readonly #connections = new OpenConnections<BodyConnection>();
  readonly #readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);

  constructor(options: BodyListenerOptions, handler: BodyHandler) {
    super(options);
    this.#handler = handler;
  }

  get maxBodySize(): number {
    return this.options.maxBodySize;
  }
  get headerTimeout(): number {
    return this.options.read_header_timeout;
  }
  get requestTimeout(): number {
    return Math.max(this.options.read_timeout, this.options.read_header_timeout);
  }
  get idleTimeout(): number {
    return this.options.idle_timeout;
  }

  async start(): Promise<void> {
    const options = this.options;
    await this.listenWith((tls) =>
      readingServer(
        tls,
        {
          handshakeTimeout: options.read_header_timeout,
          // Not half-open: a client that gives up mid-handshake (an untrusted certificate)
          // ends its side, and that must close the connection.
        },
        this.#readBuffer,
        (socket) => this.#open(socket),
        (error, socket) => this.connectionFailed(error, socket),
      ),
    );
    this.#connections.sweepEvery(timeoutCheckInterval(options));
  }

  /**
   * Stops accepting. `graceful` lets requests under way finish (their data reaches the
   * pipeline) and closes idle connections; `force` drops every connection at once.
   */
  async close(mode: 'graceful' | 'force' = 'graceful'): Promise<void> {
    const server = this.stopListening();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all([closed, this.#connections.drain(mode === 'force')]);
    this.#connections.stopSweeping();
  }

  admit(head: RequestHead, peer: string | undefined): Admission | Promise<Admission> {
    const authenticator = this.options.authenticator;
    if (!authenticator) return this.#check(head, peer);
    const verdict = authenticator.authenticate((name) => head.headers[name]);
    if (verdict === true) return this.#check(head, peer);
    if (verdict === false) return this.#unauthorized(peer, authenticator);
    return verdict.then(
      (ok) => (ok ? this.#check(head, peer) : this.#unauthorized(peer, authenticator)),
      () => this.#unauthorized(peer, authenticator),
    );
  }

  tooLarge(head: RequestHead, message: string): Reply {
    return { ...this.#handler.tooLarge(head, message), close: true };
  }

  async handle(head: RequestHead, body: Buffer, peer: string | undefined): Promise<Reply> {
    try {
      return await this.#handler.handle(head, body, peer);
    } catch (err) {
      // A handler's bug, not the client's: said in the log, a 500 to the client.
      this.options.logger.error(
        { error: (err as Error).message, endpoint: this.address },
        'a request handler failed',
      );
      return {
        status: 500,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: 'internal error\n',
        close: true,
      };
    }
  }

  refused(error: HeadError, peer: string | undefined): void {
    this.refusals.refuse(error.status === 408 ? 'timeout' : 'malformed_http', peer, error.message);
  }

  closed(connection: BodyConnection): void {
    this.#connections.remove(connection);
  }

  #check(head: RequestHead, peer: string | undefined): Admission {
    const refused = this.#handler.check(head, peer);
    if (refused) return refused;
    const limit = this.options.maxBodySize;
    if (head.contentLength > limit)
      return this.tooLarge(
        head,
        `body of ${head.contentLength} bytes exceeds max_request_body_size ${limit}`,
      );
    return READ_BODY;
  }

  /** 401 without saying what was wrong; the body is not read, the connection is closed. */
  #unauthorized(peer: string | undefined, authenticator: ServerAuthenticator): Reply {
    this.refusals.refuse('unauthenticated', peer);
    return {
      status: 401,
      headers: unauthorizedHeaders(authenticator),
      body: 'unauthenticated\n',
      close: true,
    };
  }

  #open(socket: Socket): ConnectionReader | undefined {
    if (this.server === undefined) return undefined;
    const connection = new BodyConnection(socket, this);
    this.#connections.add(connection);
    return (bytes, start, end, owned) => connection.read(bytes, start, end, owned);
  }
}
