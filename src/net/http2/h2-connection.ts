import type { Socket } from 'node:net';
import {
  CLIENT_PREFACE,
  DEFAULT_WINDOW,
  ErrorCode,
  Flag,
  FRAME_HEADER_BYTES,
  FrameType,
  frame,
  goAwayFrame,
  Http2Error,
  MAX_FRAME_BYTES,
  MAX_WINDOW,
  rstStreamFrame,
  Setting,
  settingsFrame,
  windowUpdateFrame,
  writeFrameHeader,
} from './frames.js';
import { H2Stream } from './h2-stream.js';
import { encodeFields, type FieldList, HpackDecoder } from './hpack.js';
import { checkTrailers, malformed, type RequestFields, requestFields } from './request-fields.js';

/** The limits a connection enforces and advertises (its SETTINGS). */
export interface H2Limits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS; streams past it are refused (REFUSED_STREAM). */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: how much a client may send on a stream unacknowledged. */
  streamWindow: number;
  /** The connection's receive window, opened by a WINDOW_UPDATE after the SETTINGS. */
  connectionWindow: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a larger request head is answered 431. */
  maxHeaderListSize: number;
  /** A stream the client sends nothing on for this long is cancelled. */
  streamIdleMs: number;
  /** How long a new connection may take to send its preface. */
  prefaceTimeoutMs: number;
}

/** What a connection asks of its listener. */
export interface H2StreamHost<Context> {
  readonly limits: H2Limits;
  /** A request's head has come: the stream is the host's to answer. */
  opened(stream: H2Stream<Context>, request: RequestFields): void;
  /** A piece of its body, `bytes[start, end)`: to be copied now (the bytes are reused). */
  data(stream: H2Stream<Context>, bytes: Buffer, start: number, end: number): void;
  /** The request is whole. */
  ended(stream: H2Stream<Context>): void;
  /** The stream went away unanswered: reset by the client, timed out, or its connection lost. */
  aborted(stream: H2Stream<Context>): void;
  /** A client refused for breaking the protocol or for its timing, with what was wrong. */
  refused(reason: 'malformed_http' | 'timeout', peer: string | undefined, detail: string): void;
  closed(connection: H2Connection<Context>): void;
}

enum Reading {
  Preface,
  FrameHeader,
  Payload,
  Data,
  Closed,
}

/** A header block spread over CONTINUATION frames is bounded, compressed, at this. */
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/** Unsent bytes past this mean a client that does not read what it asked for (a PING flood). */
const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long a closing connection still reads (and drops) what its client sends. */
const LINGER_MS = 1000;
const HTTP1_VERSION_REPLY = Buffer.from(
  'HTTP/1.1 505 HTTP Version Not Supported\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: 45\r\n\r\nthis endpoint speaks gRPC over HTTP/2 only.\r\n',
  'latin1',
);

/**
 * The server side of one HTTP/2 connection (RFC 9113), for a host whose requests are bodies
 * taken whole and answered once: a gRPC server of unary calls. It reads frames from the bytes
 * the socket gives, in whatever pieces they come, and hands DATA payloads to the host where
 * they lie (no buffer per frame or per read); every other frame is at most 16 KiB and
 * gathered when it is cut. It keeps the HPACK decoder's table, both sides' flow-control
 * windows, and the stream states, and answers every breach as RFC 9113 says: a stream error
 * with RST_STREAM, a connection error with GOAWAY and a close. Bounds: 16 KiB frames,
 * `maxConcurrentStreams` streams (counting reset ones whose work is not done), a 64 KiB
 * header block, `maxHeaderListSize` decoded, unsent output (a client that floods PINGs or
 * SETTINGS and reads nothing) at 1 MiB.
 */
export class H2Connection<Context> {
  readonly socket: Socket;
  readonly peer: string | undefined;
  readonly #host: H2StreamHost<Context>;
  readonly #limits: H2Limits;
  readonly #hpack = new HpackDecoder();
  readonly #streams = new Map<number, H2Stream<Context>>();
  /** Streams gone from `#streams` whose host work is not done: they still count. */
  #workingClosed = 0;
  #lastStreamId = 0;
  #state = Reading.Preface;
  readonly #prefaceDeadline: number;
  /** A frame header or payload cut between reads, gathered. */
  #gather: Buffer | undefined;
  #gathered = 0;
  // The frame being read.
  #length = 0;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  // A DATA frame being read: its stream (undefined to drop the payload), data and padding left.
  #dataStream: H2Stream<Context> | undefined;
  #dataLeft = 0;
  /** Padding still to skip; -1 until the pad length byte is read. */
  #padLeft = 0;
  /** A header block awaiting its CONTINUATION frames. */
  #continuing: { id: number; endStream: boolean; parts: Buffer[]; length: number } | undefined;
  #settingsSeen = false;
  #recvWindow: number;
  #recvConsumed = 0;
  #sendWindow = DEFAULT_WINDOW;
  #peerInitialWindow = DEFAULT_WINDOW;
  #peerMaxFrame = MAX_FRAME_BYTES;
  /** Streams with an answer waiting for the peer's window. */
  readonly #blocked = new Set<H2Stream<Context>>();
  /**
   * Streams this side reset (or refused), the last 1,000: frames the client sent before it
   * heard are dropped. A frame on any other closed stream is a connection error.
   */
  readonly #resetByUs = new Set<number>();
  /** GOAWAY sent: no new streams; the connection ends once its streams are done. */
  #goingAway = false;
  /** The client sent GOAWAY or ended its side. */
  #peerDone = false;
  #reading = false;
  #out: Buffer[] = [];

  constructor(socket: Socket, host: H2StreamHost<Context>) {
    this.socket = socket;
    this.peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
    this.#host = host;
    this.#limits = host.limits;
    this.#prefaceDeadline = performance.now() + host.limits.prefaceTimeoutMs;
    this.#recvWindow = this.#limits.connectionWindow;
    socket.on('end', () => this.#peerEnded());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#closed());
  }

  /** Streams open or still worked on, against `maxConcurrentStreams`. */
  get activeStreams(): number {
    return this.#streams.size + this.#workingClosed;
  }

  /** Reads `bytes[start, end)`, which may be reused once this returns. */
  read(bytes: Buffer, start: number, end: number): void {
    this.#reading = true;
    try {
      let at = start;
      while (at < end && this.#state !== Reading.Closed) at = this.#step(bytes, at, end);
    } catch (err) {
      if (!(err instanceof Http2Error)) throw err;
      this.#connectionError(err);
    } finally {
      this.#reading = false;
      this.#flush();
    }
  }

  /** Says GOAWAY: streams under way finish, new ones are refused, then the connection ends. */
  closeGracefully(): void {
    if (this.#state === Reading.Closed || this.#goingAway) return;
    // Before the preface nothing may precede this side's SETTINGS, and nothing is under way.
    if (this.#state === Reading.Preface) {
      this.#end();
      return;
    }
    this.#goingAway = true;
    this.#out.push(goAwayFrame(this.#lastStreamId, ErrorCode.NO_ERROR));
    this.#flush();
    this.#endIfDone();
  }

  /** Cancels streams idle past the limit, and a connection that never sent its preface. */
  expire(now: number): void {
    if (this.#state === Reading.Closed) return;
    if (this.#state === Reading.Preface && now > this.#prefaceDeadline) {
      this.#host.refused('timeout', this.peer, 'no HTTP/2 preface in time');
      this.#end();
      return;
    }
    const idleMs = this.#limits.streamIdleMs;
    for (const stream of this.#streams.values()) {
      // A request being handled is the pipeline's to finish, not the client's.
      if (stream.remoteEnded && !stream.answered) continue;
      if (now - stream.lastActivity <= idleMs) continue;
      this.#reset(stream.id, ErrorCode.CANCEL, !stream.remoteEnded);
      this.#abort(stream);
      if (!stream.remoteEnded)
        this.#host.refused(
          'timeout',
          this.peer,
          `stream ${stream.id} sent nothing in ${idleMs} ms`,
        );
    }
    this.#flush();
  }

  /** `H2Stream#respond`. */
  respond(stream: H2Stream<Context>, head: Buffer, data?: Buffer, trailers?: Buffer): void {
    if (stream.answered) return;
    stream.answered = true;
    stream.endWork();
    if (!stream.open || this.#state === Reading.Closed) return;
    // An empty body is no body: the head (or the trailers) then ends the stream.
    if (data?.length === 0) data = undefined;
    const endNow = data === undefined && trailers === undefined;
    this.#writeHeaders(stream.id, head, endNow);
    if (endNow) this.#localEnd(stream);
    else {
      stream.pendingData = data;
      stream.pendingTrailers = trailers;
      this.#pump(stream);
    }
    if (!this.#reading) this.#flush();
  }

  /** A closed stream's host work is done (`H2Stream#endWork`). */
  workEnded(): void {
    this.#workingClosed--;
  }

  #step(bytes: Buffer, at: number, end: number): number {
    switch (this.#state) {
      case Reading.Preface:
        return this.#preface(bytes, at, end);
      case Reading.FrameHeader: {
        if (this.#gathered === 0 && end - at >= FRAME_HEADER_BYTES) {
          this.#frameHeader(bytes, at);
          return at + FRAME_HEADER_BYTES;
        }
        const taken = this.#gatherUpTo(FRAME_HEADER_BYTES, bytes, at, end);
        if (this.#gathered === FRAME_HEADER_BYTES) {
          this.#gathered = 0;
          this.#frameHeader(this.#gather as Buffer, 0);
        }
        return at + taken;
      }
      case Reading.Payload: {
        const length = this.#length;
        if (this.#gathered === 0 && end - at >= length) {
          this.#state = Reading.FrameHeader;
          this.#frame(bytes, at, at + length);
          return at + length;
        }
        const taken = this.#gatherUpTo(length, bytes, at, end);
        if (this.#gathered === length) {
          this.#gathered = 0;
          this.#state = Reading.FrameHeader;
          this.#frame(this.#gather as Buffer, 0, length);
        }
        return at + taken;
      }
      case Reading.Data:
        return this.#data(bytes, at, end);
      default:
        return end;
    }
  }

  #gatherUpTo(size: number, bytes: Buffer, at: number, end: number): number {
    this.#gather ??= Buffer.allocUnsafe(MAX_FRAME_BYTES);
    const taken = Math.min(size - this.#gathered, end - at);
    bytes.copy(this.#gather, this.#gathered, at, at + taken);
    this.#gathered += taken;
    return taken;
  }

  #preface(bytes: Buffer, at: number, end: number): number {
    const taken = this.#gatherUpTo(CLIENT_PREFACE.length, bytes, at, end);
    const gather = this.#gather as Buffer;
    if (gather.compare(CLIENT_PREFACE, 0, this.#gathered, 0, this.#gathered) !== 0) {
      // Most often an HTTP/1.1 client (curl without --http2-prior-knowledge): told so.
      const http1 = /^[A-Z]+ /.test(gather.toString('latin1', 0, this.#gathered));
      this.#host.refused(
        'malformed_http',
        this.peer,
        http1 ? 'an HTTP/1.1 request on an HTTP/2 (gRPC) endpoint' : 'no HTTP/2 preface',
      );
      if (http1) this.#out.push(HTTP1_VERSION_REPLY);
      else this.#out.push(goAwayFrame(0, ErrorCode.PROTOCOL_ERROR, 'no HTTP/2 preface'));
      this.#end();
      return end;
    }
    if (this.#gathered === CLIENT_PREFACE.length) {
      this.#gathered = 0;
      this.#state = Reading.FrameHeader;
      // This side's preface waits for the client's, so that a client speaking HTTP/1.1 by
      // mistake reads a plain answer, not frames.
      this.#out.push(
        settingsFrame([
          [Setting.MAX_CONCURRENT_STREAMS, this.#limits.maxConcurrentStreams],
          [Setting.INITIAL_WINDOW_SIZE, this.#limits.streamWindow],
          [Setting.MAX_HEADER_LIST_SIZE, this.#limits.maxHeaderListSize],
        ]),
      );
      if (this.#limits.connectionWindow > DEFAULT_WINDOW)
        this.#out.push(windowUpdateFrame(0, this.#limits.connectionWindow - DEFAULT_WINDOW));
    }
    return at + taken;
  }

  #frameHeader(bytes: Buffer, at: number): void {
    const length = (bytes[at] << 16) | (bytes[at + 1] << 8) | bytes[at + 2];
    const type = bytes[at + 3];
    this.#length = length;
    this.#type = type;
    this.#flags = bytes[at + 4];
    this.#streamId = bytes.readUInt32BE(at + 5) & MAX_WINDOW;
    if (length > MAX_FRAME_BYTES)
      throw connectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        `a frame of ${length} bytes (at most 16384)`,
      );
    if (!this.#settingsSeen && (type !== FrameType.SETTINGS || this.#flags & Flag.ACK))
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame is not SETTINGS');
    if (this.#continuing && type !== FrameType.CONTINUATION)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'a header block cut by another frame');
    if (type === FrameType.DATA) {
      this.#dataStart();
      return;
    }
    if (length === 0) this.#frame(bytes, at, at);
    else this.#state = Reading.Payload;
  }

  /** A frame other than DATA, whole: `bytes[start, end)` is its payload. */
  #frame(bytes: Buffer, start: number, end: number): void {
    try {
      switch (this.#type) {
        case FrameType.HEADERS:
          this.#headers(bytes, start, end);
          break;
        case FrameType.CONTINUATION:
          this.#continuation(bytes, start, end);
          break;
        case FrameType.PRIORITY:
          this.#priority(bytes, start);
          break;
        case FrameType.RST_STREAM:
          this.#rstStream();
          break;
        case FrameType.SETTINGS:
          this.#settings(bytes, start, end);
          break;
        case FrameType.PUSH_PROMISE:
          throw connectionError(ErrorCode.PROTOCOL_ERROR, 'a PUSH_PROMISE from a client');
        case FrameType.PING:
          this.#ping(bytes, start);
          break;
        case FrameType.GOAWAY:
          this.#goAway();
          break;
        case FrameType.WINDOW_UPDATE:
          this.#windowUpdate(bytes, start);
          break;
        default:
          // Unknown types are ignored (RFC 9113 §4.1).
          break;
      }
    } catch (err) {
      if (!(err instanceof Http2Error) || err.stream === 0) throw err;
      this.#streamError(err);
    }
  }

  #dataStart(): void {
    const id = this.#streamId;
    const length = this.#length;
    if (id === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    if (this.#flags & Flag.PADDED && length === 0)
      throw connectionError(
        ErrorCode.FRAME_SIZE_ERROR,
        'a padded DATA frame without its pad length',
      );
    this.#recvWindow -= length;
    if (this.#recvWindow < 0)
      throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA past the connection window');
    let stream = this.#streams.get(id);
    if (!stream) this.#checkClosed(id, 'DATA');
    if (stream) {
      // A stream error in RFC 9113, which lets an endpoint make it the connection's; nghttp2
      // does, and so does this side: a client that sends past its END_STREAM is confused.
      if (stream.remoteEnded)
        throw connectionError(ErrorCode.STREAM_CLOSED, `DATA on stream ${id} after END_STREAM`);
      stream.recvWindow -= length;
      if (stream.recvWindow < 0) {
        this.#streamError(
          new Http2Error(ErrorCode.FLOW_CONTROL_ERROR, 'DATA past the stream window', id),
          (this.#flags & Flag.END_STREAM) !== 0,
        );
        stream = undefined;
      } else stream.lastActivity = performance.now();
    }
    // A stream reset or closed here: its DATA still in flight is read and dropped.
    this.#dataStream = stream;
    this.#dataLeft = length;
    this.#padLeft = 0;
    if (this.#flags & Flag.PADDED) {
      this.#padLeft = -1;
      this.#dataLeft = 0;
    }
    this.#state = Reading.Data;
    if (length === 0) this.#dataDone();
  }

  #data(bytes: Buffer, start: number, end: number): number {
    let at = start;
    if (this.#padLeft < 0) {
      const pad = bytes[at++];
      if (pad >= this.#length)
        throw connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA padding as long as the frame');
      this.#padLeft = pad;
      this.#dataLeft = this.#length - 1 - pad;
    }
    const taken = Math.min(this.#dataLeft, end - at);
    if (taken > 0) {
      const stream = this.#dataStream;
      if (stream?.open) {
        stream.received += taken;
        if (stream.contentLength >= 0 && stream.received > stream.contentLength) {
          this.#streamError(
            malformed('more DATA than its content-length', stream.id),
            (this.#flags & Flag.END_STREAM) !== 0,
          );
          this.#dataStream = undefined;
        } else this.#host.data(stream, bytes, at, at + taken);
      }
      this.#dataLeft -= taken;
      at += taken;
    }
    if (this.#dataLeft === 0) {
      const skipped = Math.min(this.#padLeft, end - at);
      this.#padLeft -= skipped;
      at += skipped;
      if (this.#padLeft === 0) this.#dataDone();
    }
    return at;
  }

  #dataDone(): void {
    this.#state = Reading.FrameHeader;
    const length = this.#length;
    // The bytes are taken as they come, so the windows open again at once, in halves.
    this.#recvConsumed += length;
    if (this.#recvConsumed >= this.#limits.connectionWindow / 2) {
      this.#out.push(windowUpdateFrame(0, this.#recvConsumed));
      this.#recvWindow += this.#recvConsumed;
      this.#recvConsumed = 0;
    }
    const stream = this.#dataStream;
    this.#dataStream = undefined;
    if (!stream?.open) return;
    if (this.#flags & Flag.END_STREAM) {
      this.#remoteEnd(stream);
      return;
    }
    stream.recvConsumed += length;
    if (stream.recvConsumed >= this.#limits.streamWindow / 2) {
      this.#out.push(windowUpdateFrame(stream.id, stream.recvConsumed));
      stream.recvWindow += stream.recvConsumed;
      stream.recvConsumed = 0;
    }
  }

  #headers(bytes: Buffer, start: number, end: number): void {
    const id = this.#streamId;
    if (id === 0 || id % 2 === 0)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `HEADERS on stream ${id}`);
    const flags = this.#flags;
    let at = start;
    let stop = end;
    if (flags & Flag.PADDED) {
      if (stop - at < 1)
        throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS without its pad length');
      stop -= bytes[at++];
    }
    if (flags & Flag.PRIORITY) {
      if (stop - at < 5)
        throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'HEADERS without its priority');
      if ((bytes.readUInt32BE(at) & MAX_WINDOW) === id) throw selfDependency(id);
      at += 5;
    }
    if (stop < at)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding longer than the frame');
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if (flags & Flag.END_HEADERS) {
      this.#headerBlock(id, endStream, bytes, at, stop);
      return;
    }
    const part = Buffer.from(bytes.subarray(at, stop));
    this.#continuing = { id, endStream, parts: [part], length: part.length };
  }

  #continuation(bytes: Buffer, start: number, end: number): void {
    const block = this.#continuing;
    if (!block || block.id !== this.#streamId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'a CONTINUATION without its HEADERS');
    block.length += end - start;
    if (block.length > MAX_HEADER_BLOCK_BYTES)
      throw connectionError(
        ErrorCode.ENHANCE_YOUR_CALM,
        `a header block over ${MAX_HEADER_BLOCK_BYTES} bytes`,
      );
    block.parts.push(Buffer.from(bytes.subarray(start, end)));
    if (!(this.#flags & Flag.END_HEADERS)) return;
    this.#continuing = undefined;
    const whole = Buffer.concat(block.parts);
    this.#headerBlock(block.id, block.endStream, whole, 0, whole.length);
  }

  #headerBlock(id: number, endStream: boolean, bytes: Buffer, start: number, end: number): void {
    // Every block is decoded, whatever becomes of its stream: the table must stay in step.
    const fields: FieldList = [];
    const fits = this.#hpack.decode(bytes, start, end, fields, this.#limits.maxHeaderListSize);
    try {
      this.#headersDecoded(id, endStream, fields, fits);
    } catch (err) {
      if (!(err instanceof Http2Error) || err.stream === 0) throw err;
      this.#streamError(err, endStream);
    }
  }

  /** A header block's fields: a new request's head, or the trailers that end one. */
  #headersDecoded(id: number, endStream: boolean, fields: FieldList, fits: boolean): void {
    const stream = this.#streams.get(id);
    if (stream) {
      // Trailers: they end the request.
      if (stream.remoteEnded)
        throw connectionError(ErrorCode.STREAM_CLOSED, `HEADERS on stream ${id} after END_STREAM`);
      if (!endStream) throw malformed('trailers without END_STREAM', id);
      checkTrailers(fields, id);
      stream.lastActivity = performance.now();
      this.#remoteEnd(stream);
      return;
    }
    if (id <= this.#lastStreamId) {
      this.#checkClosed(id, 'HEADERS');
      return;
    }
    this.#lastStreamId = id;
    if (this.#goingAway || this.activeStreams >= this.#limits.maxConcurrentStreams) {
      this.#reset(id, ErrorCode.REFUSED_STREAM, !endStream);
      return;
    }
    const opened = new H2Stream<Context>(
      id,
      this,
      this.#limits.streamWindow,
      this.#peerInitialWindow,
      performance.now(),
    );
    if (!fits) {
      this.#host.refused(
        'malformed_http',
        this.peer,
        `a request head over ${this.#limits.maxHeaderListSize} bytes`,
      );
      this.#streams.set(id, opened);
      opened.remoteEnded = endStream;
      this.respond(opened, HEADER_LIST_TOO_LARGE);
      return;
    }
    const request = requestFields(fields, id);
    opened.contentLength = request.contentLength;
    // Marked ended before the host sees it, so an answer from \`opened\` resets nothing.
    opened.remoteEnded = endStream;
    this.#streams.set(id, opened);
    this.#host.opened(opened, request);
    if (endStream && opened.open && !opened.answered) this.#remoteEnd(opened);
  }

  /** The request is whole (END_STREAM): handed to the host, if its length is what it said. */
  #remoteEnd(stream: H2Stream<Context>): void {
    stream.remoteEnded = true;
    if (stream.contentLength >= 0 && stream.received !== stream.contentLength) {
      this.#streamError(
        malformed(
          `${stream.received} bytes of DATA against content-length ${stream.contentLength}`,
          stream.id,
        ),
      );
      return;
    }
    this.#host.ended(stream);
  }

  #priority(bytes: Buffer, at: number): void {
    if (this.#streamId === 0)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    // Both are stream errors in RFC 9113; the connection's, as nghttp2 has them: never sent
    // by a client that means well.
    if (this.#length !== 5)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a PRIORITY frame not of 5 bytes');
    if ((bytes.readUInt32BE(at) & MAX_WINDOW) === this.#streamId)
      throw selfDependency(this.#streamId);
    // Priorities are advice (RFC 9113 deprecates them); every stream here is answered alike.
  }

  #rstStream(): void {
    const id = this.#streamId;
    if (this.#length !== 4)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'an RST_STREAM frame not of 4 bytes');
    if (id === 0 || id > this.#lastStreamId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${id}`);
    const stream = this.#streams.get(id);
    if (stream) this.#abort(stream);
  }

  #settings(bytes: Buffer, start: number, end: number): void {
    if (this.#streamId !== 0)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (this.#flags & Flag.ACK) {
      if (end !== start)
        throw connectionError(
          ErrorCode.FRAME_SIZE_ERROR,
          'a SETTINGS acknowledgement with a payload',
        );
      return;
    }
    if ((end - start) % 6 !== 0)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a SETTINGS frame not of 6-byte settings');
    for (let at = start; at < end; at += 6) {
      const id = bytes.readUInt16BE(at);
      const value = bytes.readUInt32BE(at + 2);
      if (id === Setting.ENABLE_PUSH && value > 1)
        throw connectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_ENABLE_PUSH ${value}`);
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW)
          throw connectionError(
            ErrorCode.FLOW_CONTROL_ERROR,
            `SETTINGS_INITIAL_WINDOW_SIZE ${value}`,
          );
        const change = value - this.#peerInitialWindow;
        this.#peerInitialWindow = value;
        for (const stream of this.#streams.values()) {
          stream.sendWindow += change;
          if (stream.sendWindow > MAX_WINDOW)
            throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window past 2^31-1');
        }
      }
      if (id === Setting.MAX_FRAME_SIZE) {
        if (value < MAX_FRAME_BYTES || value > 0xff_ffff)
          throw connectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value}`);
        this.#peerMaxFrame = value;
      }
    }
    this.#settingsSeen = true;
    this.#out.push(SETTINGS_ACK);
    for (const stream of [...this.#blocked]) this.#pump(stream);
  }

  #ping(bytes: Buffer, at: number): void {
    if (this.#streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (this.#length !== 8)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a PING frame not of 8 bytes');
    // This side sends no PING, so an acknowledgement answers nothing: node:http2 makes it a
    // protocol error, and so does this side.
    if (this.#flags & Flag.ACK)
      throw connectionError(
        ErrorCode.PROTOCOL_ERROR,
        'a PING acknowledgement, and no PING was sent',
      );
    this.#out.push(frame(FrameType.PING, Flag.ACK, 0, bytes.subarray(at, at + 8)));
  }

  #goAway(): void {
    if (this.#streamId !== 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (this.#length < 8)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a GOAWAY frame under 8 bytes');
    this.#peerDone = true;
    this.#endIfDone();
  }

  #windowUpdate(bytes: Buffer, at: number): void {
    const id = this.#streamId;
    if (this.#length !== 4)
      throw connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a WINDOW_UPDATE frame not of 4 bytes');
    const increment = bytes.readUInt32BE(at) & MAX_WINDOW;
    if (id === 0) {
      if (increment === 0) throw connectionError(ErrorCode.PROTOCOL_ERROR, 'a WINDOW_UPDATE of 0');
      this.#sendWindow += increment;
      if (this.#sendWindow > MAX_WINDOW)
        throw connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'the connection window past 2^31-1');
      for (const stream of [...this.#blocked]) this.#pump(stream);
      return;
    }
    if (id > this.#lastStreamId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${id}`);
    const stream = this.#streams.get(id);
    if (!stream) return;
    if (increment === 0) throw new Http2Error(ErrorCode.PROTOCOL_ERROR, 'a WINDOW_UPDATE of 0', id);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW)
      throw new Http2Error(ErrorCode.FLOW_CONTROL_ERROR, 'the stream window past 2^31-1', id);
    stream.lastActivity = performance.now();
    if (this.#blocked.has(stream)) this.#pump(stream);
  }

  /** A header block as HEADERS and, past the peer's frame size, CONTINUATION frames. */
  #writeHeaders(id: number, block: Buffer, endStream: boolean): void {
    const size = this.#peerMaxFrame;
    let at = 0;
    let type: number = FrameType.HEADERS;
    do {
      const piece = Math.min(size, block.length - at);
      const last = at + piece === block.length;
      const flags =
        (last ? Flag.END_HEADERS : 0) |
        (type === FrameType.HEADERS && endStream ? Flag.END_STREAM : 0);
      this.#out.push(frame(type, flags, id, block.subarray(at, at + piece)));
      at += piece;
      type = FrameType.CONTINUATION;
    } while (at < block.length);
  }

  /** Sends what the peer's windows let of a stream's answer; the rest waits for WINDOW_UPDATE. */
  #pump(stream: H2Stream<Context>): void {
    if (!stream.open) return;
    const data = stream.pendingData;
    if (data && data.length > 0) {
      const room = Math.min(stream.sendWindow, this.#sendWindow);
      let at = 0;
      while (at < data.length && at < room) {
        const piece = Math.min(data.length - at, room - at, this.#peerMaxFrame);
        const last = at + piece === data.length && stream.pendingTrailers === undefined;
        const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + piece);
        writeFrameHeader(out, 0, piece, FrameType.DATA, last ? Flag.END_STREAM : 0, stream.id);
        data.copy(out, FRAME_HEADER_BYTES, at, at + piece);
        this.#out.push(out);
        at += piece;
      }
      stream.sendWindow -= at;
      this.#sendWindow -= at;
      if (at < data.length) {
        stream.pendingData = data.subarray(at);
        this.#blocked.add(stream);
        return;
      }
      stream.pendingData = undefined;
      if (stream.pendingTrailers === undefined) {
        this.#localEnd(stream);
        return;
      }
    }
    const trailers = stream.pendingTrailers;
    stream.pendingTrailers = undefined;
    if (trailers) this.#writeHeaders(stream.id, trailers, true);
    this.#localEnd(stream);
  }

  /**
   * A frame on stream `id`, not open: idle (never opened) or closed without this side's reset
   * is a connection error; one this side reset may still see frames sent before the client
   * heard, and they are dropped.
   */
  #checkClosed(id: number, what: string): void {
    if (id > this.#lastStreamId)
      throw connectionError(ErrorCode.PROTOCOL_ERROR, `${what} on stream ${id}, never opened`);
    if (!this.#resetByUs.has(id))
      throw connectionError(ErrorCode.STREAM_CLOSED, `${what} on stream ${id}, closed`);
  }

  /**
   * Sends RST_STREAM, and, when the client may still send on the stream (it has not ended its
   * side), remembers the stream was reset here.
   */
  #reset(id: number, code: number, clientMaySend: boolean): void {
    this.#out.push(rstStreamFrame(id, code));
    if (!clientMaySend) return;
    this.#resetByUs.add(id);
    if (this.#resetByUs.size > 1000) {
      const [oldest] = this.#resetByUs;
      this.#resetByUs.delete(oldest as number);
    }
  }

  /** This side has ended the stream: closed, or, if the request is not whole, reset. */
  #localEnd(stream: H2Stream<Context>): void {
    this.#blocked.delete(stream);
    if (!stream.remoteEnded) this.#reset(stream.id, ErrorCode.NO_ERROR, true);
    this.#remove(stream);
  }

  /** A stream error; `clientEnded`: the frame that caused it ended the client's side. */
  #streamError(error: Http2Error, clientEnded = false): void {
    const stream = this.#streams.get(error.stream);
    this.#reset(error.stream, error.errorCode, !(clientEnded || stream?.remoteEnded));
    if (error.errorCode === ErrorCode.PROTOCOL_ERROR)
      this.#host.refused('malformed_http', this.peer, error.message);
    if (stream) this.#abort(stream);
  }

  /** The stream is gone unanswered: the host hears of it. */
  #abort(stream: H2Stream<Context>): void {
    this.#remove(stream);
    if (!stream.answered) this.#host.aborted(stream);
  }

  #remove(stream: H2Stream<Context>): void {
    if (!stream.open) return;
    stream.open = false;
    this.#streams.delete(stream.id);
    this.#blocked.delete(stream);
    if (stream.working) this.#workingClosed++;
    this.#endIfDone();
  }

  #connectionError(error: Http2Error): void {
    this.#host.refused('malformed_http', this.peer, error.message);
    this.#out.push(goAwayFrame(this.#lastStreamId, error.errorCode, error.message));
    this.#end();
  }

  #peerEnded(): void {
    this.#peerDone = true;
    // A request not yet whole can no longer be.
    for (const stream of [...this.#streams.values()]) if (!stream.remoteEnded) this.#abort(stream);
    this.#endIfDone();
  }

  #endIfDone(): void {
    if ((this.#goingAway || this.#peerDone) && this.#streams.size === 0) this.#end();
  }

  /** Sends what is queued, closes this side, and drops what the client still sends for a while. */
  #end(): void {
    if (this.#state === Reading.Closed) return;
    this.#state = Reading.Closed;
    for (const stream of [...this.#streams.values()]) this.#abort(stream);
    this.#flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  #flush(): void {
    const out = this.#out;
    if (out.length === 0 || this.socket.destroyed) return;
    this.#out = [];
    this.socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    if (this.socket.writableLength > MAX_UNSENT_BYTES) this.socket.destroy();
  }

  #closed(): void {
    this.#state = Reading.Closed;
    for (const stream of [...this.#streams.values()]) this.#abort(stream);
    this.#host.closed(this);
  }
}

const SETTINGS_ACK = frame(FrameType.SETTINGS, Flag.ACK, 0);
const HEADER_LIST_TOO_LARGE = encodeFields([[':status', '431']]);

function connectionError(code: number, message: string): Http2Error {
  return new Http2Error(code, message, 0);
}

function selfDependency(stream: number): Http2Error {
  return connectionError(ErrorCode.PROTOCOL_ERROR, `stream ${stream} depending on itself`);
}
