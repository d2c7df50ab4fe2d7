import { spawn } from 'node:child_process';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMetricsRequest } from '../../src/codec/protobuf/encode-request.js';
import { METRICS_EXPORT_METHOD } from '../../src/codec/protobuf/service.js';
import { GrpcUnaryClient } from '../../src/net/grpc-unary-client.js';
import { GrpcStatus } from '../../src/net/grpc-wire.js';
import { counterBatch } from '../helpers/batches.js';
import { GrpcSink } from '../helpers/grpc-sink.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(endpoint: string): GrpcUnaryClient {
  const c = new GrpcUnaryClient({ endpoint });
  cleanups.push(() => c.close());
  return c;
}

async function sink(port = 0): Promise<{ sink: GrpcSink; url: string }> {
  const s = new GrpcSink();
  const url = await s.start(port);
  cleanups.push(() => s.stop());
  return { sink: s, url };
}

const request = () => encodeMetricsRequest(counterBatch(5).batch);

/** An HTTP/2 server that answers every stream as `answer` does. */
async function http2Server(
  answer: (stream: import('node:http2').ServerHttp2Stream) => void,
): Promise<string> {
  const server: Http2Server = createHttp2Server();
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    answer(stream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  cleanups.push(() => {
    for (const s of sessions) s.destroy();
  });
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('GrpcUnaryClient against a grpc-js server', () => {
  it('calls, and reads the status, percent-decoded message and details of a failure', async () => {
    const { sink: s, url } = await sink();
    s.reply = (index) =>
      index === 0
        ? {}
        : {
            code: GrpcStatus.INVALID_ARGUMENT,
            details: 'métrique 100% invalide',
            statusDetails: new Uint8Array([8, 3]),
          };
    const c = client(url);
    const ok = await c.call(METRICS_EXPORT_METHOD, request(), { headers: { 'x-tenant': 't1' } });
    expect(ok.code).toBe(GrpcStatus.OK);
    expect(s.ids).toHaveLength(5);
    expect(s.metadata[0].get('x-tenant')).toEqual(['t1']);
    const failed = await c.call(METRICS_EXPORT_METHOD, request());
    expect(failed).toMatchObject({
      code: GrpcStatus.INVALID_ARGUMENT,
      message: 'métrique 100% invalide',
      details: Buffer.from([8, 3]),
    });
  });

  it('fails a call whose metadata HTTP/2 cannot carry, for good, and goes on calling', async () => {
    const { url } = await sink();
    const c = client(url);
    const refused = await c.call(METRICS_EXPORT_METHOD, request(), {
      headers: { connection: 'keep-alive' },
    });
    expect(refused.code).toBe(GrpcStatus.INTERNAL); // not UNAVAILABLE: retrying cannot help
    expect(refused.message).toContain('metadata');
    expect((await c.call(METRICS_EXPORT_METHOD, request())).code).toBe(GrpcStatus.OK);
  });

  it('reconnects after the server went away between calls', async () => {
    const first = await sink();
    const c = client(first.url);
    expect((await c.call(METRICS_EXPORT_METHOD, request())).code).toBe(GrpcStatus.OK);
    await first.sink.stop();
    // Nothing listens: the network's failure is a status to retry, not an exception.
    expect((await c.call(METRICS_EXPORT_METHOD, request())).code).toBe(GrpcStatus.UNAVAILABLE);
    const again = await sink(first.sink.port);
    expect((await c.call(METRICS_EXPORT_METHOD, request())).code).toBe(GrpcStatus.OK);
    expect(again.sink.ids).toHaveLength(5);
  });
});

describe('GrpcUnaryClient in an application', () => {
  it('does not keep the process alive once its calls are done', async () => {
    const { sink: s, url } = await sink();
    const module = new URL('../../dist/net/grpc-unary-client.js', import.meta.url).href;
    const script = `
      import { GrpcUnaryClient } from ${JSON.stringify(module)};
      const client = new GrpcUnaryClient({ endpoint: ${JSON.stringify(url)} });
      const { code } = await client.call(${JSON.stringify(METRICS_EXPORT_METHOD)}, new Uint8Array(0));
      console.log('status', code);
      // No close: an exporter the application never shut down.
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script]);
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    expect(await exited).toBe(0); // killed (null) if the connection held it
    clearTimeout(timer);
    expect(out).toContain('status 0');
    expect(s.requests).toBe(1);
  });
});

describe('GrpcUnaryClient against servers that do not answer as gRPC does', () => {
  it('maps an answer without a gRPC status by its HTTP status', async () => {
    for (const [httpStatus, code] of [
      [503, GrpcStatus.UNAVAILABLE],
      [404, GrpcStatus.UNIMPLEMENTED],
      [401, GrpcStatus.UNAUTHENTICATED],
      [500, GrpcStatus.UNKNOWN],
    ] as const) {
      const url = await http2Server((stream) => {
        stream.respond({ ':status': httpStatus, 'content-type': 'text/plain' });
        stream.end('no');
      });
      expect((await client(url).call(METRICS_EXPORT_METHOD, request())).code, `${httpStatus}`).toBe(
        code,
      );
    }
  });

  it('refuses a response that is not one message', async () => {
    const url = await http2Server((stream) => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 9, 1, 2])); // declares 9 bytes, carries 2
    });
    expect((await client(url).call(METRICS_EXPORT_METHOD, request())).code).toBe(
      GrpcStatus.INTERNAL,
    );
  });

  it('gives a cancelled call CANCELLED, and drops a connection that answers nothing', async () => {
    // Accepts the connection, then says nothing at all (no HTTP/2 settings, no answer).
    const sockets = new Set<Socket>();
    const silent: Server = createTcpServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => silent.close(resolve)));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
    });
    const c = client(`http://127.0.0.1:${(silent.address() as { port: number }).port}`);
    const timeout = AbortSignal.timeout(200);
    expect((await c.call(METRICS_EXPORT_METHOD, request(), { signal: timeout })).code).toBe(
      GrpcStatus.CANCELLED,
    );
    // The next call does not wait on the silent connection: a new one is made.
    const before = sockets.size;
    const next = c.call(METRICS_EXPORT_METHOD, request(), { signal: AbortSignal.timeout(200) });
    await next;
    expect(sockets.size).toBe(before + 1);
  });
});
