// The receivers' HTTP/1.1 listener (`BodyListener`) against a `node:http` server doing the
// same work (each body read whole into the request buffers, answered 200): CPU of the server
// process per request, bodies of the load generator's size (1,000 points, ~213 KB) and of
// remote write's (~9 KB), sent by undici over 8 connections. Then the OTLP/gRPC receiver's
// server (`GrpcUnaryListener` on sluice's HTTP/2) against a `node:http2` server doing the same
// work, the same messages sent by sluice's gRPC client (node:http2, as `sluice loadgen`) over
// 8 connections. The two servers of each pair run side by side and take the load in turns,
// the order flipping every round; each round checks that the server counted every request
// and every byte sent. `--write-docs` updates docs/benchmarks.md.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';
import { GrpcUnaryClient } from '../../dist/net/grpc-unary-client.js';
import { median, table, writeDocsSection } from '../lib/report.js';

const ROUNDS = Number(process.env.LISTENER_ROUNDS ?? 6);
const REQUESTS = Number(process.env.LISTENER_REQUESTS ?? 4000);
const CONNECTIONS = 8;
const SIZES = [
  { name: '213 KB bodies (1,000 OTLP points)', bytes: 213_000 },
  { name: '9 KB bodies (a remote-write request)', bytes: 9_000 },
];

/** A server process of `kind`, its port, and a way to ask it what it counted. */
async function startServer(kind) {
  // LISTENER_NODE_ARGS: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile both servers.
  const nodeArgs = process.env.LISTENER_NODE_ARGS?.split(' ') ?? [];
  const script = new URL('./server.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [...nodeArgs, script, kind], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const next = () =>
    new Promise((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));
  const { port } = await next();
  return {
    kind,
    pid: child.pid,
    port,
    stats: () => {
      const answer = next();
      child.stdin.write('stats\n');
      return answer;
    },
    stop: () => child.kill('SIGINT'),
  };
}

/**
 * Sends `count` POSTs of `body` over 8 connections; the server's CPU seconds for them (its own
 * `process.cpuUsage`, asked before and after: microseconds, not the kernel's 10 ms ticks).
 */
async function load(server, body, count) {
  if (server.kind.endsWith('-grpc')) return loadGrpc(server, body, count);
  const pool = new Pool(`http://127.0.0.1:${server.port}`, {
    connections: CONNECTIONS,
    pipelining: 1,
  });
  const before = await server.stats();
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const res = await pool.request({
        method: 'POST',
        path: '/v1/metrics',
        headers: { 'content-type': 'application/x-protobuf' },
        body,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${server.kind}: status ${res.statusCode}`);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await pool.close();
  return checked(server, before, await server.stats(), body, count);
}

/** As `load`, over gRPC: `count` calls whose message is `body`, on 8 connections. */
async function loadGrpc(server, body, count) {
  const clients = Array.from(
    { length: CONNECTIONS },
    () => new GrpcUnaryClient({ endpoint: `http://127.0.0.1:${server.port}` }),
  );
  const before = await server.stats();
  let left = count;
  const worker = async (client) => {
    while (left-- > 0) {
      const { code } = await client.call(METHOD, body);
      if (code !== 0) throw new Error(`${server.kind}: gRPC status ${code}`);
    }
  };
  await Promise.all(clients.map(worker));
  await Promise.all(clients.map((client) => client.close()));
  return checked(server, before, await server.stats(), body, count);
}

function checked(server, before, after, body, count) {
  const used = (after.cpuMicros - before.cpuMicros) / 1e6;
  if (
    after.requests - before.requests !== count ||
    after.bytes - before.bytes !== count * body.length
  )
    throw new Error(
      `${server.kind} counted ${after.requests - before.requests} requests, ${after.bytes - before.bytes} bytes of ${count} and ${count * body.length}`,
    );
  return used;
}

const METHOD = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** Rounds of `count` requests of each size, alternating `ours` and `peer`; one line a size. */
async function compare(kinds, sizes, what) {
  const servers = [await startServer(kinds[0]), await startServer(kinds[1])];
  const results = [];
  try {
    for (const size of sizes) {
      const body = Buffer.alloc(size.bytes, 0x2a);
      for (const server of servers) await load(server, body, 500); // warm-up
      const samples = { [kinds[0]]: [], [kinds[1]]: [] };
      for (let round = 0; round < ROUNDS; round++) {
        const order = round % 2 === 0 ? servers : [...servers].reverse();
        for (const server of order)
          samples[server.kind].push((await load(server, body, REQUESTS)) / REQUESTS);
      }
      const ours = median(samples[kinds[0]]) * 1e6;
      const peer = median(samples[kinds[1]]) * 1e6;
      const line = {
        name: `${what}: server CPU per request, ${size.name}`,
        unit: 'µs',
        value: Math.round(ours * 10) / 10,
        baseline: Math.round(peer * 10) / 10,
        ratio: Math.round((ours / peer) * 100) / 100,
        rounds: ROUNDS,
        baselineName: kinds[1].startsWith('node-grpc') ? 'node:http2' : 'node:http',
        samples: Object.fromEntries(
          kinds.map((kind) => [kind, samples[kind].map((s) => Math.round(s * 1e7) / 10)]),
        ),
      };
      results.push(line);
      console.log(JSON.stringify(line));
    }
  } finally {
    for (const server of servers) server.stop();
  }
  return results;
}

const http1 = await compare(['sluice', 'node'], SIZES, 'HTTP/1.1');
const grpc = await compare(['sluice-grpc', 'node-grpc'], [SIZES[0]], 'OTLP/gRPC');
const markdown = table([...http1, ...grpc]);
console.log(
  `\nThe receivers' listeners against node:http and node:http2 (lower is better)\n${markdown}`,
);
if (process.argv.includes('--write-docs')) writeDocsSection('listener', markdown);
