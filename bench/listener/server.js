// One side of the listener benchmark, in its own process: `sluice` (BodyListener, what the
// OTLP/HTTP and remote-write receivers listen on) or `node` (a node:http server reading each
// body into the same request buffers, as the receivers did before); `sluice-grpc`
// (GrpcUnaryListener on sluice's HTTP/2, the OTLP/gRPC receiver's) or `node-grpc` (a
// node:http2 server reading each message into the request buffers as the receiver did
// before). Each answers every request once its body is whole (200, or gRPC OK), and counts
// requests and body bytes; it prints its port, and answers `stats` on stdin with the counts
// and its CPU time so far (microseconds).
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { GrowingBytes, readWhole, requestBytes } from '../../dist/model/byte-pool.js';
import { GrpcUnaryListener } from '../../dist/net/grpc-unary-listener.js';
import { BodyListener } from '../../dist/net/http1/body-listener.js';

const METHOD = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

const kind = process.argv[2];
let requests = 0;
let bytes = 0;
const REPLY = Buffer.from([]);
let port;

if (kind === 'sluice') {
  const listener = new BodyListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'bench.endpoint',
      maxBodySize: 20 * 1024 * 1024,
      read_header_timeout: 10_000,
      read_timeout: 60_000,
      idle_timeout: 30_000,
      logger: pino({ level: 'silent' }),
    },
    {
      check: () => undefined,
      tooLarge: () => ({ status: 413 }),
      handle: async (_head, body) => {
        requests++;
        bytes += body.length;
        requestBytes.give(body);
        return { status: 200, headers: { 'content-type': 'application/x-protobuf' }, body: REPLY };
      },
    },
  );
  await listener.start();
  port = Number(listener.address.split(':').pop());
} else if (kind === 'sluice-grpc') {
  const listener = new GrpcUnaryListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'bench.endpoint',
      method: METHOD,
      maxReceiveBytes: 20 * 1024 * 1024,
      logger: pino({ level: 'silent' }),
    },
    async (message) => {
      requests++;
      bytes += message.length;
      return { code: 0, response: REPLY };
    },
  );
  await listener.start();
  port = Number(listener.address.split(':').pop());
} else if (kind === 'node-grpc') {
  // What GrpcUnaryListener did on node:http2: the same windows, each DATA chunk copied into a
  // request buffer, the message's prefix read, answered with a head, the message, trailers.
  const server = createHttp2Server({ settings: { initialWindowSize: 1024 * 1024 } });
  server.on('session', (session) => session.setLocalWindowSize(4 * 1024 * 1024));
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== METHOD) throw new Error(`unexpected path ${headers[':path']}`);
    const message = new GrowingBytes();
    stream.on('data', (chunk) => message.append(chunk, 0, 20 * 1024 * 1024));
    stream.on('end', () => {
      const body = message.take();
      requests++;
      bytes += body.length - 5;
      requestBytes.give(body);
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: true },
      );
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
} else {
  const server = createServer(async (req, res) => {
    const body = await readWhole(
      req,
      Number(req.headers['content-length']),
      20 * 1024 * 1024,
      () => new Error('too large'),
    );
    requests++;
    bytes += body.length;
    requestBytes.give(body);
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(REPLY);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
}
console.log(JSON.stringify({ port }));
createInterface({ input: process.stdin }).on('line', () => {
  const { user, system } = process.cpuUsage();
  console.log(JSON.stringify({ requests, bytes, cpuMicros: user + system }));
});
// Exits on SIGINT so that `--cpu-prof` writes its profile.
process.on('SIGINT', () => process.exit(0));
