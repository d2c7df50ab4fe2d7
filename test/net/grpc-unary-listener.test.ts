import { type ClientHttp2Session, connect } from 'node:http2';
import { deflateSync, gzipSync } from 'node:zlib';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type GrpcAnswer,
  GrpcStatus,
  GrpcUnaryListener,
  type GrpcUnaryListenerOptions,
} from '../../src/net/grpc-unary-listener.js';
import { grpcFrame } from '../helpers/raw-grpc.js';

// The gRPC server sluice's OTLP/gRPC receiver runs on: one unary method over node:http2.
// Each answer is checked as a gRPC client reads it (status, message, response frame).

const METHOD = '/test.Service/Call';
let listener: GrpcUnaryListener | undefined;
let session: ClientHttp2Session | undefined;

afterEach(async () => {
  session?.close();
  session = undefined;
  await listener?.close(1_000);
  listener = undefined;
});

async function serve(
  handler: (message: Buffer) => Promise<GrpcAnswer>,
  options: Partial<GrpcUnaryListenerOptions> = {},
): Promise<ClientHttp2Session> {
  listener = new GrpcUnaryListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'test.endpoint',
      method: METHOD,
      maxReceiveBytes: 1024,
      logger: pino({ level: 'silent' }),
      ...options,
    },
    (message) => handler(message),
  );
  await listener.start();
  session = connect(`http://${listener.address}`);
  session.on('error', () => {});
  return session;
}

interface Answer {
  httpStatus: number;
  grpcStatus?: string;
  grpcMessage?: string;
  details?: string;
  body: Buffer;
}

/** One call: the request stream is `chunks`, written one by one. */
function call(
  to: ClientHttp2Session,
  chunks: Uint8Array[],
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve) => {
    const answer: Answer = { httpStatus: 0, body: Buffer.alloc(0) };
    const stream = to.request({
      ':method': 'POST',
      ':path': METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    });
    const take = (h: Record<string, unknown>) => {
      if (h[':status'] !== undefined) answer.httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) answer.grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) answer.grpcMessage = String(h['grpc-message']);
      if (h['grpc-status-details-bin'] !== undefined)
        answer.details = String(h['grpc-status-details-bin']);
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', (d: Buffer) => {
      answer.body = Buffer.concat([answer.body, d]);
    });
    stream.on('error', () => {});
    stream.on('close', () => resolve(answer));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
}

const echo = async (message: Buffer): Promise<GrpcAnswer> => ({
  code: GrpcStatus.OK,
  response: Buffer.from(message),
});

describe('GrpcUnaryListener', () => {
  it('answers a message split anywhere across frames with the handler response framed', async () => {
    const to = await serve(echo);
    const frame = grpcFrame(Buffer.from('hello, world'), false);
    for (const cut of [1, 3, 5, 6, frame.length - 1]) {
      const answer = await call(to, [frame.subarray(0, cut), frame.subarray(cut)]);
      expect(answer.grpcStatus, `cut at ${cut}`).toBe('0');
      expect(answer.body.equals(frame), `cut at ${cut}`).toBe(true);
    }
    // An empty message is a message.
    expect((await call(to, [grpcFrame(new Uint8Array(0), false)])).grpcStatus).toBe('0');
  });

  it('reads a message larger than its first block, however its frames are cut', async () => {
    const to = await serve(echo, { maxReceiveBytes: 1024 * 1024 });
    const big = Buffer.alloc(700 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    const frame = grpcFrame(big, false);
    for (const size of [1000, 16 * 1024, 100 * 1024]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < frame.length; at += size) chunks.push(frame.subarray(at, at + size));
      const answer = await call(to, chunks);
      expect(answer.grpcStatus, `chunks of ${size}`).toBe('0');
      expect(answer.body.equals(frame), `chunks of ${size}`).toBe(true);
    }
  });

  it('inflates gzip and deflate messages, and stops inflating at the limit', async () => {
    const to = await serve(echo);
    const text = Buffer.from('x'.repeat(1000));
    const gzip = await call(to, [grpcFrame(gzipSync(text), true)], { 'grpc-encoding': 'gzip' });
    expect(gzip.grpcStatus).toBe('0');
    expect(gzip.body.subarray(5).equals(text)).toBe(true);
    const deflate = await call(to, [grpcFrame(deflateSync(text), true)], {
      'grpc-encoding': 'deflate',
    });
    expect(deflate.body.subarray(5).equals(text)).toBe(true);
    // 1 KiB is the limit: 2 KiB of zeros inflates past it.
    const bomb = await call(to, [grpcFrame(gzipSync(Buffer.alloc(2048)), true)], {
      'grpc-encoding': 'gzip',
    });
    expect(bomb.grpcStatus).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    expect(decodeURIComponent(bomb.grpcMessage ?? '')).toContain('once inflated');
    const garbage = await call(to, [grpcFrame(Buffer.from('not gzip'), true)], {
      'grpc-encoding': 'gzip',
    });
    expect(garbage.grpcStatus).toBe(String(GrpcStatus.INTERNAL));
  });

  it('refuses what is not one well-framed message of the method, and keeps serving', async () => {
    let handled = 0;
    const to = await serve(async (message) => {
      handled++;
      return echo(message);
    });
    const frame = grpcFrame(Buffer.from('abc'), false);
    const status = async (chunks: Uint8Array[], headers: Record<string, string> = {}) =>
      (await call(to, chunks, headers)).grpcStatus;
    expect(await status([frame, frame])).toBe(String(GrpcStatus.INTERNAL)); // two messages
    expect(await status([frame.subarray(0, 6)])).toBe(String(GrpcStatus.INTERNAL)); // cut short
    expect(await status([frame.subarray(0, 3)])).toBe(String(GrpcStatus.INTERNAL)); // half a prefix
    expect(await status([])).toBe(String(GrpcStatus.INTERNAL)); // no message
    expect(await status([grpcFrame(Buffer.from('abc'), true)])).toBe(String(GrpcStatus.INTERNAL)); // compressed flag, identity encoding
    const flagTwo = Buffer.from(frame);
    flagTwo[0] = 2;
    expect(await status([flagTwo])).toBe(String(GrpcStatus.INTERNAL));
    expect(await status([frame], { ':path': '/test.Service/Other' })).toBe(
      String(GrpcStatus.UNIMPLEMENTED),
    );
    expect(await status([frame], { 'grpc-encoding': 'snappy' })).toBe(
      String(GrpcStatus.UNIMPLEMENTED),
    );
    // Over the limit, said by its prefix: refused before the rest is read.
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(4096, 1);
    expect(await status([huge, Buffer.alloc(4096)])).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    const notGrpc = await call(to, [frame], { 'content-type': 'application/json' });
    expect(notGrpc.httpStatus).toBe(415);
    expect(handled).toBe(0);
    expect(await status([frame])).toBe('0');
    expect(handled).toBe(1);
  });

  it('sends the handler status, a percent-encoded message and the status details', async () => {
    const to = await serve(async () => ({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      message: 'full: 100% (é)',
      details: Buffer.from([1, 2, 3]),
    }));
    const answer = await call(to, [grpcFrame(Buffer.from('m'), false)]);
    expect(answer.grpcStatus).toBe(String(GrpcStatus.RESOURCE_EXHAUSTED));
    expect(answer.grpcMessage).toBe('full: 100%25 (%C3%A9)');
    expect(decodeURIComponent(answer.grpcMessage ?? '')).toBe('full: 100% (é)');
    expect(Buffer.from(answer.details ?? '', 'base64')).toEqual(Buffer.from([1, 2, 3]));
  });

  it('refuses a call before reading it when asked to, and counts it', async () => {
    const refused: string[] = [];
    let handled = 0;
    const to = await serve(
      async (message) => {
        handled++;
        return echo(message);
      },
      {
        onRefused: (reason) => refused.push(reason),
        beforeReading: () => ({
          reason: 'queue_full',
          answer: { code: GrpcStatus.RESOURCE_EXHAUSTED, message: 'queue full' },
        }),
      },
    );
    expect((await call(to, [grpcFrame(Buffer.from('m'), false)])).grpcStatus).toBe('8');
    expect(handled).toBe(0);
    expect(refused).toEqual(['queue_full']);
  });

  it('cancels a call that stops sending, and keeps serving', async () => {
    let handled = 0;
    const to = await serve(
      async (message) => {
        handled++;
        return echo(message);
      },
      { streamIdleMs: 200 },
    );
    const frame = grpcFrame(Buffer.from('never finished'), false);
    const stalled = await new Promise<string>((resolve) => {
      const stream = to.request({
        ':method': 'POST',
        ':path': METHOD,
        'content-type': 'application/grpc',
      });
      stream.on('error', () => {});
      stream.on('close', () => resolve(`closed with ${stream.rstCode}`));
      stream.write(frame.subarray(0, 8)); // and nothing more, never the end
    });
    expect(stalled).toBe('closed with 8'); // NGHTTP2_CANCEL
    expect(handled).toBe(0);
    expect((await call(to, [frame])).grpcStatus).toBe('0');
  });

  it('lets a call in flight finish when closed, then refuses new connections', async () => {
    let release: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finish: () => void = () => {};
    const to = await serve(async (message) => {
      release();
      await new Promise<void>((resolve) => {
        finish = resolve;
      });
      return echo(message);
    });
    const address = listener!.address;
    const pending = call(to, [grpcFrame(Buffer.from('in flight'), false)]);
    await started;
    const closing = listener!.close(5_000);
    setTimeout(() => finish(), 50);
    const answer = await pending;
    expect(answer.grpcStatus).toBe('0');
    expect(answer.body.subarray(5).toString()).toBe('in flight');
    await closing;
    listener = undefined;
    const late = connect(`http://${address}`);
    const error = await new Promise<unknown>((resolve) => late.once('error', resolve));
    expect(String(error)).toContain('ECONNREFUSED');
    late.destroy();
  });
});
