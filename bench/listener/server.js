// One side of the listener benchmark, in its own process: `sluice` (BodyListener, what the
// OTLP/HTTP and remote-write receivers listen on) or `node` (a node:http server reading each
// body into the same request buffers, as the receivers did before). Each answers every POST
// 200 once its body is whole, and counts requests and body bytes; it prints its port, and
// answers `stats` on stdin with the counts and its CPU time so far (microseconds).
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { readWhole, requestBytes } from '../../dist/model/byte-pool.js';
import { BodyListener } from '../../dist/net/http1/body-listener.js';

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
