import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'zstd-napi';
import { RefRequest } from './reference.js';

export interface SinkReply {
  status?: number;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Answer only once this settles (a backend that hangs until the test lets it go). */
  until?: Promise<void>;
  /** Reset the connection instead of answering (after the delay). */
  reset?: boolean;
}

export interface ReceivedRequest {
  /** Reference-decoded request (protobufjs object form, longs as strings). */
  request: any;
  points: number;
  ids: string[];
  contentType: string | undefined;
  /** The body as it came, decompressed. */
  body: Buffer;
  /** The body as it came on the wire (compressed, if it was). */
  wire: Buffer;
  contentEncoding: string | undefined;
  headers: IncomingMessage['headers'];
}

/**
 * A real OTLP/HTTP server on 127.0.0.1 for tests. It decodes every request with the
 * reference decoder generated from the official definitions, counts points, collects the
 * `id` attribute of each point, and answers as `reply` says (success by default).
 */
export class OtlpSink {
  readonly received: ReceivedRequest[] = [];
  /** Requests answered with 2xx. */
  readonly accepted: ReceivedRequest[] = [];
  reply: (request: ReceivedRequest, index: number) => SinkReply = () => ({});
  inFlight = 0;
  maxInFlight = 0;
  #server: Server | undefined;
  #port = 0;
  #sockets = new Set<import('node:net').Socket>();

  async start(port = 0): Promise<string> {
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.#server!.listen(port, '127.0.0.1', resolve));
    this.#port = (this.#server!.address() as AddressInfo).port;
    return this.url;
  }

  /** The port it listens on, or listened on last (a stopped sink starts again on it). */
  get port(): number {
    return this.#port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v1/metrics`;
  }

  /** Ids of every point in a request the sink answered with 2xx. */
  deliveredIds(): Set<string> {
    return new Set(this.accepted.flatMap((r) => r.ids));
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    this.#server = undefined;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const wire = Buffer.concat(chunks);
      let body: Buffer = wire;
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      else if (req.headers['content-encoding'] === 'zstd') body = zstdDecompress(body);
      const contentType = req.headers['content-type'];
      const request = contentType?.includes('json')
        ? JSON.parse(body.toString('utf8'))
        : RefRequest.toObject(RefRequest.decode(body), { longs: String, defaults: false });
      const received: ReceivedRequest = {
        request,
        ...countPoints(request),
        contentType,
        body,
        wire,
        contentEncoding: req.headers['content-encoding'],
        headers: req.headers,
      };
      const index = this.received.push(received) - 1;
      const reply = this.reply(received, index);
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      if (reply.until) await reply.until;
      if (reply.reset) {
        req.socket.resetAndDestroy();
        return;
      }
      const status = reply.status ?? 200;
      if (status >= 200 && status < 300) this.accepted.push(received);
      res.writeHead(status, { 'content-type': 'application/x-protobuf', ...reply.headers });
      res.end(reply.body ?? '');
    } catch (err) {
      res.writeHead(500);
      res.end(String(err));
    } finally {
      this.inFlight--;
    }
  }
}

export function countPoints(request: any): { points: number; ids: string[] } {
  let points = 0;
  const ids: string[] = [];
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const metric of sm.metrics ?? []) {
        const data =
          metric.sum ??
          metric.gauge ??
          metric.histogram ??
          metric.exponentialHistogram ??
          metric.summary;
        for (const point of data?.dataPoints ?? []) {
          points++;
          const id = (point.attributes ?? []).find((a: any) => a.key === 'id');
          if (id) ids.push(String(id.value.stringValue ?? id.value.intValue));
        }
      }
    }
  }
  return { points, ids };
}

/** A `google.rpc.Status` protobuf with just a message, as OTLP/HTTP error bodies carry. */
export function statusBody(message: string): Uint8Array {
  const text = Buffer.from(message);
  return Uint8Array.from([0x12, text.length, ...text]);
}
