import type { Socket } from 'node:net';
import { FIRST_BLOCK_BYTES, GrowingBytes } from '../../model/byte-pool.js';
import { ChunkedBody } from './chunked-body.js';
import { type Reply, replyBytes } from './reply.js';
import {
  HeadError,
  headEnd,
  MAX_HEAD_BYTES,
  parseRequestHead,
  type RequestHead,
} from './request-head.js';

/** What a connection asks of its listener. */
export interface ConnectionHost {
  readonly maxBodySize: number;
  /** How long a head may take to arrive, and a whole request; how long a kept connection idles. */
  readonly headerTimeout: number;
  readonly requestTimeout: number;
  readonly idleTimeout: number;
  /**
   * After the head: `READ_BODY` to read the body, or a reply that refuses the request
   * unread (which may be decided asynchronously: an authenticator's lookup).
   */
  admit(head: RequestHead, peer: string | undefined): Admission | Promise<Admission>;
  /** The reply to a chunked body that grew past `maxBodySize`. */
  tooLarge(head: RequestHead, message: string): Reply;
  /** Handles a whole body, a block of `requestBytes` the handler now owns. */
  handle(head: RequestHead, body: Buffer, peer: string | undefined): Promise<Reply>;
  /** A request refused for its framing or its timing (not the handler's refusals). */
  refused(error: HeadError, peer: string | undefined): void;
  /** The connection has closed. */
  closed(connection: BodyConnection): void;
}

export const READ_BODY = Symbol('read the body');
export type Admission = Reply | typeof READ_BODY;

enum Phase {
  /** Between requests, nothing read yet. */
  Idle,
  Head,
  /** The listener is deciding on a head (reading is paused). */
  Admitting,
  Body,
  /** A refused request's body, read and dropped so the connection can go on. */
  Skipping,
  /** The handler has the body (reading is paused: a pipelined request waits its turn). */
  Handling,
  /** The reply that closes the connection is written; what comes is read and dropped. */
  Lingering,
  Closed,
}

/** How long a closing connection keeps reading (and dropping) what its client still sends. */
const LINGER_MS = 1000;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

/**
 * One client connection of a `BodyListener`: reads heads and bodies as they arrive, in the
 * pieces the socket gives, one request at a time. A body goes straight into a block of the
 * request buffers; a head spread over several reads is gathered (up to `MAX_HEAD_BYTES`).
 * While a request is being decided on or handled, reading stops, and bytes already read past
 * it wait in `#stash`, so a pipelined request is answered after the one before it.
 */
export class BodyConnection {
  readonly socket: Socket;
  readonly peer: string | undefined;
  readonly #host: ConnectionHost;
  #phase = Phase.Idle;
  #paused = false;
  /** A head arriving in pieces, gathered. */
  #headBytes: Buffer | undefined;
  #headLength = 0;
  #request: RequestHead | undefined;
  /** Body bytes still to come (a body with a length). */
  #remaining = 0;
  #chunks: ChunkedBody | undefined;
  #body: GrowingBytes | undefined;
  /** Bytes read while paused, to read once resumed. */
  #stash: Buffer | undefined;
  /** When the current phase times out (`performance.now()`), 0 for never. */
  #deadline = 0;
  /** The request's own deadline (head and body), set when its first byte arrives. */
  #requestDeadline = 0;
  #closeAfterReply = false;

  constructor(socket: Socket, host: ConnectionHost) {
    this.socket = socket;
    this.peer = socket.remoteAddress;
    this.#host = host;
    this.#idle();
    socket.on('end', () => this.#peerEnded());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#closed());
  }

  /** Nothing is being received or handled: the connection can be closed at once. */
  get idle(): boolean {
    return this.#phase === Phase.Idle && this.#stash === undefined;
  }

  /**
   * Reads `bytes[start, end)`. `owned` says the bytes are this connection's to keep; when
   * false (the listener's shared read buffer) whatever must wait is copied.
   */
  read(bytes: Buffer, start: number, end: number, owned: boolean): void {
    let at = start;
    reading: while (at < end && !this.#paused) {
      try {
        switch (this.#phase) {
          case Phase.Idle:
            this.#phase = Phase.Head;
            this.#requestDeadline = performance.now() + this.#host.requestTimeout;
            this.#deadline = performance.now() + this.#host.headerTimeout;
            break;
          case Phase.Head:
            at = this.#readHead(bytes, at, end);
            break;
          case Phase.Body:
            at = this.#readBody(bytes, at, end);
            break;
          case Phase.Skipping:
            at = this.#skipBody(bytes, at, end);
            break;
          case Phase.Lingering:
          case Phase.Closed:
            return;
          default:
            // Admitting or Handling: the rest waits (reading is paused by now).
            break reading;
        }
      } catch (err) {
        if (!(err instanceof HeadError)) throw err;
        this.#refuse(err);
        return;
      }
    }
    if (at < end && this.#phase !== Phase.Closed && this.#phase !== Phase.Lingering) {
      const rest = bytes.subarray(at, end);
      this.#stash = owned ? rest : Buffer.from(rest);
    }
  }

  /** Applies the listener's timeouts at `now`: a late head or body is answered 408. */
  expire(now: number): void {
    if (this.#deadline === 0 || now < this.#deadline) return;
    if (this.#phase === Phase.Head)
      this.#refuse(new HeadError(408, 'the request head did not arrive in time'));
    else if (this.#phase === Phase.Body || this.#phase === Phase.Skipping)
      this.#refuse(new HeadError(408, 'the request body did not arrive in time'));
    else this.socket.destroy();
  }

  /** Closes now if idle, else after the reply to the request under way. */
  closeGracefully(): void {
    if (this.idle) this.socket.destroy();
    else this.#closeAfterReply = true;
  }

  #readHead(bytes: Buffer, start: number, end: number): number {
    if (this.#headBytes === undefined) {
      const found = headEnd(bytes, start, end);
      if (found >= 0) {
        if (found - start > MAX_HEAD_BYTES) throw headTooLarge();
        this.#admit(parseRequestHead(bytes, start, found));
        return found;
      }
      if (end - start > MAX_HEAD_BYTES) throw headTooLarge();
      this.#headBytes = Buffer.allocUnsafe(MAX_HEAD_BYTES);
      this.#headLength = bytes.copy(this.#headBytes, 0, start, end);
      return end;
    }
    const gathered = this.#headBytes;
    const before = this.#headLength;
    const copied = bytes.copy(gathered, before, start, end);
    const found = headEnd(gathered, 0, before + copied, before);
    if (found < 0) {
      if (copied < end - start || before + copied >= MAX_HEAD_BYTES) throw headTooLarge();
      this.#headLength = before + copied;
      return end;
    }
    this.#headBytes = undefined;
    this.#headLength = 0;
    this.#admit(parseRequestHead(gathered, 0, found));
    return start + (found - before);
  }

  #admit(head: RequestHead): void {
    this.#request = head;
    this.#phase = Phase.Admitting;
    this.#deadline = 0;
    const admission = this.#host.admit(head, this.peer);
    if (!(admission instanceof Promise)) {
      this.#admitted(head, admission);
      return;
    }
    this.#pause();
    admission.then(
      (decided) => {
        if (this.#phase !== Phase.Admitting) return;
        this.#paused = false;
        this.#admitted(head, decided);
        // Unless it paused again (the request is being handled) or closed, read on.
        if (!this.#paused && (this.#phase as Phase) !== Phase.Lingering) this.#resume();
      },
      () => this.socket.destroy(),
    );
  }

  #admitted(head: RequestHead, admission: Admission): void {
    const hasBody = head.chunked || head.contentLength > 0;
    if (admission !== READ_BODY) {
      // Refused unread. A body the client waits to send on `100 Continue` will not come; one
      // it is sending is read and dropped, within the body limit, to keep the connection.
      const keep =
        !admission.close &&
        head.keepAlive &&
        !(hasBody && head.expectContinue) &&
        head.contentLength <= this.#host.maxBodySize;
      this.#write(admission, !keep);
      if (!keep) this.#linger();
      else if (!hasBody) this.#idle();
      else this.#startBody(head, Phase.Skipping);
      return;
    }
    if (!hasBody) {
      this.#handle(head, Buffer.alloc(0));
      return;
    }
    if (head.expectContinue) this.socket.write(CONTINUE);
    this.#body = new GrowingBytes(head.chunked ? FIRST_BLOCK_BYTES : head.contentLength);
    this.#startBody(head, Phase.Body);
  }

  #startBody(head: RequestHead, phase: Phase.Body | Phase.Skipping): void {
    this.#phase = phase;
    this.#remaining = head.contentLength;
    this.#chunks = head.chunked ? new ChunkedBody() : undefined;
    this.#deadline = this.#requestDeadline;
  }

  #readBody(bytes: Buffer, start: number, end: number): number {
    const body = this.#body as GrowingBytes;
    const limit = this.#host.maxBodySize;
    let at: number;
    if (this.#chunks) {
      at = this.#chunks.feed(bytes, start, end, (data, from, to) => {
        if (body.length + (to - from) > limit) throw new BodyOverLimit();
        body.append(data.subarray(from, to), 0, limit);
      });
      if (!this.#chunks.done) return at;
    } else {
      const take = Math.min(this.#remaining, end - start);
      body.append(bytes.subarray(start, start + take), 0, limit);
      this.#remaining -= take;
      at = start + take;
      if (this.#remaining > 0) return at;
    }
    this.#body = undefined;
    this.#handle(this.#request as RequestHead, body.take());
    return at;
  }

  #skipBody(bytes: Buffer, start: number, end: number): number {
    let at: number;
    if (this.#chunks) {
      at = this.#chunks.feed(bytes, start, end, () => {});
      if (!this.#chunks.done) return at;
    } else {
      const take = Math.min(this.#remaining, end - start);
      this.#remaining -= take;
      at = start + take;
      if (this.#remaining > 0) return at;
    }
    this.#afterReply();
    return at;
  }

  #handle(head: RequestHead, body: Buffer): void {
    this.#phase = Phase.Handling;
    this.#deadline = 0;
    this.#pause();
    this.#host.handle(head, body, this.peer).then(
      (reply) => {
        if (this.#phase !== Phase.Handling) return;
        const close = reply.close === true || !head.keepAlive || this.#closeAfterReply;
        this.#write(reply, close);
        this.#afterReply(close);
      },
      () => this.socket.destroy(),
    );
  }

  /** After a reply: the next request, or the end of the connection. */
  #afterReply(close = false): void {
    const head = this.#request as RequestHead;
    this.#request = undefined;
    this.#chunks = undefined;
    if (close || !head.keepAlive || this.#closeAfterReply) this.#linger();
    else {
      this.#idle();
      this.#resume();
    }
  }

  #idle(): void {
    this.#phase = Phase.Idle;
    const idle = this.#host.idleTimeout;
    this.#deadline = idle > 0 ? performance.now() + idle : 0;
  }

  /** Answers a request this connection cannot read on with, and closes. */
  #refuse(error: HeadError): void {
    const head = this.#request;
    if (!(error instanceof BodyOverLimit)) this.#host.refused(error, this.peer);
    const reply =
      error instanceof BodyOverLimit && head
        ? this.#host.tooLarge(
            head,
            `body exceeds max_request_body_size ${this.#host.maxBodySize} bytes`,
          )
        : { status: error.status, headers: TEXT, body: `${error.message}\n` };
    this.#body?.release();
    this.#body = undefined;
    // A body being skipped belongs to a request already answered: no second reply.
    if (this.#phase !== Phase.Skipping) this.#write(reply, true);
    this.#linger();
  }

  #write(reply: Reply, close: boolean): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // A reply to HEAD says its body's length but does not carry it (RFC 9110 §9.3.2).
    this.socket.write(replyBytes(reply, close, this.#request?.method === 'HEAD'));
  }

  /**
   * Ends the connection after a reply: the write side closes once the reply is out, and what
   * the client still sends is dropped for a moment, so its kernel does not reset the
   * connection (losing the reply) over unread bytes.
   */
  #linger(): void {
    this.#phase = Phase.Lingering;
    this.#stash = undefined;
    this.#deadline = performance.now() + LINGER_MS;
    this.socket.end();
    this.#resume();
  }

  #pause(): void {
    this.#paused = true;
    this.socket.pause();
  }

  #resume(): void {
    this.#paused = false;
    const stash = this.#stash;
    if (stash) {
      this.#stash = undefined;
      this.read(stash, 0, stash.length, true);
    }
    if (!this.#paused && !this.socket.destroyed) this.socket.resume();
  }

  #peerEnded(): void {
    // A client may half-close once it has sent its request: its reply is still written.
    if (this.#phase === Phase.Admitting || this.#phase === Phase.Handling)
      this.#closeAfterReply = true;
    else this.socket.destroy();
  }

  #closed(): void {
    this.#phase = Phase.Closed;
    this.#deadline = 0;
    this.#body?.release();
    this.#body = undefined;
    this.#stash = undefined;
    this.#host.closed(this);
  }
}

const TEXT = { 'content-type': 'text/plain; charset=utf-8' };

function headTooLarge(): HeadError {
  return new HeadError(431, `request head larger than ${MAX_HEAD_BYTES} bytes`);
}

/** A chunked body past the listener's limit: answered with the handler's own 413. */
class BodyOverLimit extends HeadError {
  constructor() {
    super(413, 'body over the limit');
  }
}
