import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { InfluxSender } from '../../src/exporters/influxdb/influx-sender.js';
import { encodeMetricsRequest, OtlpGrpcSender, OtlpHttpSender } from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { GrpcRecorder } from '../helpers/raw-grpc.js';

// The bodies an exporter sends, byte for byte, at the level asked for and at the default
// one: zlib and zstd write the same bytes for the same input and level.

const request = encodeMetricsRequest(counterBatch(400).batch);
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((done) => server.close(done));
});

/** An OTLP/HTTP endpoint keeping each raw body; its URL. */
async function httpBodies(bodies: Buffer[]): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  servers.push(server);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`;
}

describe('compression levels', () => {
  it('OTLP/HTTP: gzip at level 1 unless told, zstd at 3, and the level given otherwise', async () => {
    const bodies: Buffer[] = [];
    const url = await httpBodies(bodies);
    const cases: [compression: 'gzip' | 'zstd', level: number | undefined, expected: Buffer][] = [
      ['gzip', undefined, gzipSync(request, { level: 1 })],
      ['gzip', 9, gzipSync(request, { level: 9 })],
      ['zstd', undefined, zstdCompress(request, { compressionLevel: 3 })],
      ['zstd', 19, zstdCompress(request, { compressionLevel: 19 })],
    ];
    for (const [compression, compressionLevel, expected] of cases) {
      const sender = new OtlpHttpSender({ url, compression, compressionLevel });
      await sender.sendEncoded(request, AbortSignal.timeout(5_000));
      await sender.close();
      expect(bodies.at(-1)?.equals(expected), `${compression} ${compressionLevel}`).toBe(true);
    }
    // The levels write different bytes: the comparison above tells them apart.
    expect(bodies[0].equals(bodies[1])).toBe(false);
    expect(bodies[2].equals(bodies[3])).toBe(false);
  });

  it('OTLP/gRPC: gzip at level 1 unless told, and the level given otherwise', async () => {
    const recorder = new GrpcRecorder();
    const endpoint = `http://${await recorder.start()}`;
    try {
      for (const level of [undefined, 9]) {
        const sender = new OtlpGrpcSender({
          endpoint,
          compression: 'gzip',
          compressionLevel: level,
        });
        await sender.sendEncoded(request, AbortSignal.timeout(5_000));
        await sender.close();
        const message = recorder.calls.at(-1)?.frame.subarray(5);
        expect(message?.equals(gzipSync(request, { level: level ?? 1 })), `${level}`).toBe(true);
      }
      const [first, second] = recorder.calls.map((call) => call.frame);
      expect(first.equals(second)).toBe(false);
    } finally {
      await recorder.stop();
    }
  });

  it('InfluxDB: gzip at level 1 unless told, and the level given otherwise', async () => {
    const bodies: Buffer[] = [];
    const writeUrl = new URL(await httpBodies(bodies));
    const { batch } = counterBatch(400);
    for (const level of [undefined, 9]) {
      const sender = new InfluxSender({
        writeUrl,
        headers: {},
        compression: 'gzip',
        compressionLevel: level,
        connections: 1,
      });
      await sender.send(batch, AbortSignal.timeout(5_000));
      await sender.close();
      // The same lines compressed again at the level expected give the same bytes.
      const body = bodies.at(-1)!;
      expect(body.equals(gzipSync(gunzipSync(body), { level: level ?? 1 })), `${level}`).toBe(true);
    }
    expect(gunzipSync(bodies[0]).equals(gunzipSync(bodies[1]))).toBe(true);
    expect(bodies[0].equals(bodies[1])).toBe(false);
  });

  it('refuses a level the compression does not take, saying which it does', () => {
    expect(
      () =>
        new OtlpHttpSender({
          url: 'http://127.0.0.1:1/v1/metrics',
          compression: 'gzip',
          compressionLevel: 0,
        }),
    ).toThrow('compressionLevel: expected a gzip level from 1 (fastest) to 9 (smallest), got 0');
    expect(
      () => new OtlpGrpcSender({ endpoint: 'http://127.0.0.1:1', compressionLevel: 3 }),
    ).toThrow('compressionLevel: expected no level: compression is none');
  });
});
