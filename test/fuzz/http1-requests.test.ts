import { createServer as createHttpServer, type Server } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestBytes } from '../../src/model/byte-pool.js';
import { BodyListener } from '../../src/net/http1/body-listener.js';
import { fuzzRuns, mutate, mutations } from '../helpers/mutation.js';

// The receivers' HTTP/1.1 listener against Node's own server (llhttp) on the same bytes:
// valid requests of many shapes (bodies with a length or in chunks, pipelined, in odd
// pieces), then damaged ones. Whatever the listener hands its handler must be what Node
// hands its own, in the same order: a request Node would not see must not get through here
// (a smuggled request), and a body must not be read differently. Refusing more than Node
// is allowed (a bare LF, a repeated Content-Type); accepting more is not.

const RUNS = fuzzRuns(300);

interface Seen {
  method: string;
  path: string;
  body: string;
}

let node: Server;
let nodePort: number;
let ours: BodyListener;
let oursPort: number;
const seenByNode: Seen[] = [];
const seenByOurs: Seen[] = [];

beforeAll(async () => {
  node = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seenByNode.push({
        method: req.method ?? '',
        path: (req.url ?? '').split('?')[0] as string,
        body: Buffer.concat(chunks).toString('latin1'),
      });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => node.listen(0, '127.0.0.1', resolve));
  nodePort = (node.address() as { port: number }).port;
  ours = new BodyListener(
    {
      endpoint: '127.0.0.1:0',
      endpointKey: 'fuzz.endpoint',
      maxBodySize: 1 << 20,
      read_header_timeout: 5_000,
      read_timeout: 5_000,
      idle_timeout: 5_000,
      logger: pino({ level: 'silent' }),
    },
    {
      check: () => undefined,
      tooLarge: () => ({ status: 413 }),
      handle: async (head, body) => {
        seenByOurs.push({ method: head.method, path: head.path, body: body.toString('latin1') });
        requestBytes.give(body);
        return { status: 200, body: 'ok' };
      },
    },
  );
  await ours.start();
  oursPort = Number(ours.address.split(':').pop());
});

afterAll(async () => {
  await ours.close('force');
  node.closeAllConnections();
  await new Promise<void>((resolve) => node.close(() => resolve()));
});

/** Sends `pieces` on one connection, half-closes, and waits for the server to close it. */
function exchange(port: number, pieces: Uint8Array[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const answer: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within 3 s from port ${port}`));
    }, 3_000);
    socket.on('data', (c: Buffer) => answer.push(c));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(answer).toString('latin1'));
    });
    socket.on('connect', async () => {
      for (const piece of pieces) {
        socket.write(piece);
        await new Promise((r) => setImmediate(r));
      }
      socket.end();
    });
  });
}

/** One valid request's bytes. */
const request = fc
  .record({
    method: fc.constantFrom('POST', 'PUT', 'GET'),
    path: fc.constantFrom('/v1/metrics', '/api/v1/write', '/v1/metrics?x=1', '/a%20b'),
    body: fc.uint8Array({ maxLength: 300 }),
    chunked: fc.boolean(),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 8 }),
    extension: fc.boolean(),
    trailer: fc.boolean(),
    extra: fc.array(
      fc.tuple(
        fc.constantFrom('x-a', 'User-Agent', 'accept', 'X-Forwarded-For', 'content-type'),
        fc.constantFrom('1', 'a b', ' padded ', 'gzip', 'application/x-protobuf'),
      ),
      { maxLength: 3 },
    ),
    keepAlive: fc.boolean(),
  })
  .map((r) => {
    const lines = [`${r.method} ${r.path} HTTP/1.1`, 'Host: 127.0.0.1'];
    const seen = new Set<string>();
    for (const [name, value] of r.extra) {
      if (seen.has(name.toLowerCase())) continue;
      seen.add(name.toLowerCase());
      lines.push(`${name}:${value}`);
    }
    if (!r.keepAlive) lines.push('Connection: close');
    let body: Buffer;
    if (r.chunked) {
      lines.push('Transfer-Encoding: chunked');
      const parts: Buffer[] = [];
      let at = 0;
      for (const size of r.chunkSizes) {
        if (at >= r.body.length) break;
        const piece = r.body.subarray(at, at + size);
        at += piece.length;
        parts.push(
          Buffer.from(`${piece.length.toString(16)}${r.extension ? ';ext=1' : ''}\r\n`),
          Buffer.from(piece),
          Buffer.from('\r\n'),
        );
      }
      if (at < r.body.length)
        parts.push(
          Buffer.from(`${(r.body.length - at).toString(16)}\r\n`),
          Buffer.from(r.body.subarray(at)),
          Buffer.from('\r\n'),
        );
      parts.push(Buffer.from(`0\r\n${r.trailer ? 'x-checksum: 1\r\n' : ''}\r\n`));
      body = Buffer.concat(parts);
    } else {
      lines.push(`Content-Length: ${r.body.length}`);
      body = Buffer.from(r.body);
    }
    return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
  });

/** Requests back to back (pipelined), split into pieces at arbitrary points. */
const connection = fc
  .record({
    requests: fc.array(request, { minLength: 1, maxLength: 3 }),
    cuts: fc.array(fc.nat(), { maxLength: 4 }),
  })
  .map(({ requests, cuts }) => {
    const whole = Buffer.concat(requests);
    const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const point of points) {
      if (point > from) pieces.push(whole.subarray(from, point));
      from = point;
    }
    pieces.push(whole.subarray(from));
    return { whole, pieces };
  });

async function compare(pieces: Uint8Array[]): Promise<{ node: Seen[]; ours: Seen[] }> {
  seenByNode.length = 0;
  seenByOurs.length = 0;
  await exchange(nodePort, pieces);
  await exchange(oursPort, pieces);
  return { node: [...seenByNode], ours: [...seenByOurs] };
}

describe('the HTTP/1.1 listener against node:http', () => {
  it('hands its handler exactly what Node hands its own, for valid requests in any pieces', async () => {
    await fc.assert(
      fc.asyncProperty(connection, async ({ pieces }) => {
        const { node, ours } = await compare(pieces);
        // Node's `Connection: close` on a request stops the ones after it; so does ours.
        expect(ours).toEqual(node);
        expect(ours.length).toBeGreaterThan(0);
      }),
      { numRuns: Math.max(50, Math.floor(RUNS / 4)) },
    );
  });

  it('never lets through a damaged request Node would refuse, nor reads one differently', async () => {
    const seen = { cases: 0, sameRequests: 0, refusedByBoth: 0, refusedMoreHere: 0 };
    let refusedMore = 0;
    await fc.assert(
      fc.asyncProperty(connection, mutations, async ({ whole }, edits) => {
        const damaged = mutate(whole, edits);
        const { node, ours } = await compare([damaged]);
        // What ours hands on is what Node handed on, up to where ours stopped.
        const sent = JSON.stringify(Buffer.from(damaged).toString('latin1'));
        expect(ours, `sent ${sent}`).toEqual(node.slice(0, ours.length));
        if (ours.length < node.length) refusedMore++;
        seen.cases++;
        if (ours.length < node.length) seen.refusedMoreHere++;
        else if (ours.length === 0) seen.refusedByBoth++;
        else seen.sameRequests++;
      }),
      { numRuns: RUNS },
    );
    console.log(JSON.stringify({ fuzz: 'http1-listener-vs-node', ...seen }));
    // Strictness is allowed, but a listener refusing most of what Node takes would be broken.
    expect(refusedMore).toBeLessThan(RUNS / 2);
  });
});
