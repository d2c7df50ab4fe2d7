// A minimal OTLP/HTTP (and OTLP/gRPC) sink in its own process, so its work does not count against the
// exporter or collector under test: it reads each request, counts its bytes and its data
// points, and answers 200 with an empty body. `GET /stats` (or `/reset`, which then zeroes
// them) reports `{ bytes, requests, points, malformed }` (bytes as sent: gzip bodies are
// uncompressed to count their points). Points are counted by walking the
// protobuf (request → resource → scope → metric → data → points), not by sluice's decoder:
// the benchmarks check sluice's deliveries against it.
import { createServer } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { gunzipSync } from 'node:zlib';

let bytes = 0;
let requests = 0;
let points = 0;
let malformed = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end(JSON.stringify({ bytes, requests, points, malformed }));
    if (req.url === '/reset') bytes = requests = points = malformed = 0;
    return;
  }
  const gzipped = req.headers['content-encoding'] === 'gzip';
  receive(
    req,
    (body) => countPoints(gzipped ? gunzipSync(body) : body),
    () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    },
  );
});

/**
 * Reads one request from `source` (a request or an HTTP/2 stream), counts its bytes and,
 * through `pointsOf` (which throws on what it cannot read), its points or it as malformed;
 * then `answer`s.
 */
function receive(source, pointsOf, answer) {
  const chunks = [];
  source.on('data', (chunk) => {
    bytes += chunk.length;
    chunks.push(chunk);
  });
  source.on('end', () => {
    requests++;
    try {
      points += pointsOf(Buffer.concat(chunks));
    } catch {
      malformed++;
    }
    answer();
  });
}

// The same over OTLP/gRPC (HTTP/2, one unary method): each call's message behind its 5-byte
// prefix, answered with an empty response and grpc-status 0 in the trailers.
// Windows as a gRPC server opens them under load (grpc-go grows its own by BDP estimates to
// megabytes; sluice's listener opens 1 MiB a stream, 4 MiB a connection): HTTP/2's 64 KiB
// defaults would make the sink, not the exporter, what limits the rate.
const grpcServer = createHttp2Server({ settings: { initialWindowSize: 1024 * 1024 } });
grpcServer.on('session', (session) => session.setLocalWindowSize(4 * 1024 * 1024));
grpcServer.on('stream', (stream, headers) => {
  const messagePoints = (body) => {
    if (body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5)
      throw new Error('not one uncompressed message');
    if (!String(headers[':path']).endsWith('/Export')) throw new Error('not Export');
    return countPoints(body.subarray(5));
  };
  receive(stream, messagePoints, () => {
    stream.respond(
      { ':status': 200, 'content-type': 'application/grpc' },
      { waitForTrailers: true },
    );
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(Buffer.alloc(5));
  });
});
server.listen(0, '127.0.0.1', () => {
  grpcServer.listen(0, '127.0.0.1', () => {
    process.send?.({ port: server.address().port, grpcPort: grpcServer.address().port });
  });
});
process.on('disconnect', () => process.exit(0));

/** Data points in an ExportMetricsServiceRequest (uncompressed protobuf). */
function countPoints(buf) {
  let n = 0;
  // Field paths: request.1 → ResourceMetrics.2 → ScopeMetrics.2 → Metric.{5,7,9,10,11}
  // → data.1 (the points).
  each(buf, 0, buf.length, 1, (rs, re) =>
    each(buf, rs, re, 2, (ss, se) =>
      each(buf, ss, se, 2, (ms, me) =>
        each(buf, ms, me, [5, 7, 9, 10, 11], (ds, de) =>
          each(buf, ds, de, 1, () => {
            n++;
          }),
        ),
      ),
    ),
  );
  return n;
}

/** Calls `visit(start, end)` for each length-delimited field `want` in buf[from, to). */
function each(buf, from, to, want, visit) {
  const wanted = Array.isArray(want) ? want : [want];
  let pos = from;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      if (pos >= to) throw new Error('truncated');
      const b = buf[pos++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (pos < to) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      const start = pos;
      pos += length;
      if (pos > to) throw new Error('truncated');
      if (wanted.includes(Math.floor(tag / 8))) visit(start, pos);
    } else throw new Error(`wire type ${wire}`);
  }
}
