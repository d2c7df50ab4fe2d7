import type { H2Connection } from './h2-connection.js';

/**
 * One request of an `H2Connection`, as its host sees it: answered once with `respond`.
 * `Context` is what the host keeps with it (a gRPC call). The fields below the public ones
 * are the connection's bookkeeping.
 */
export class H2Stream<Context = unknown> {
  readonly id: number;
  readonly connection: H2Connection<Context>;
  /** The host's state for this stream, set when it is opened. */
  context: Context | undefined;

  /** Still in its connection (not reset, not closed at both ends). */
  open = true;
  /** The client sent END_STREAM: the request is whole. */
  remoteEnded = false;
  /** `respond` was called. */
  answered = false;
  /** The host has asynchronous work for it (`startWork` / `endWork`). */
  working = false;
  /** How much more the client may send before a WINDOW_UPDATE; what was taken since the last. */
  recvWindow: number;
  recvConsumed = 0;
  /** How much this side may send. */
  sendWindow: number;
  /** Body bytes received, checked against `contentLength` (-1: none declared). */
  received = 0;
  contentLength = -1;
  /** `performance.now()` of the stream's last frame, for the idle timeout. */
  lastActivity: number;
  /** What is left to send once the peer's window allows. */
  pendingData: Buffer | undefined;
  pendingTrailers: Buffer | undefined;

  constructor(
    id: number,
    connection: H2Connection<Context>,
    recvWindow: number,
    sendWindow: number,
    now: number,
  ) {
    this.id = id;
    this.connection = connection;
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
    this.lastActivity = now;
  }

  get peer(): string | undefined {
    return this.connection.peer;
  }

  /**
   * Answers with the header block `head` (HPACK, `encodeFields`), then `data`, then the
   * block `trailers`; the last one sent ends the stream. An answer to a request not yet
   * whole also resets the stream (NO_ERROR: the client stops sending, as RFC 9113 §8.1
   * lets a server ask). Nothing is sent to a stream already gone; the answer still ends
   * the host's work on it.
   */
  respond(head: Buffer, data?: Buffer, trailers?: Buffer): void {
    this.connection.respond(this, head, data, trailers);
  }

  /**
   * Marks asynchronous work under way for the stream (an authenticator's lookup, the
   * handler): until `endWork`, the stream counts against the connection's concurrent
   * streams even if the client resets it, so resetting streams cannot start unbounded work
   * (the "rapid reset" attack).
   */
  startWork(): void {
    this.working = true;
  }

  endWork(): void {
    if (!this.working) return;
    this.working = false;
    if (!this.open) this.connection.workEnded();
  }
}
