import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { compressSync as snappyCompress } from 'snappy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compress as zstdCompress } from 'zstd-napi';
import { encodeMetricsRequest } from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { grpcFrame, rawExportCall } from '../helpers/raw-grpc.js';

// Decompression bombs against a real `sluice run` process: bodies of a few hundred KB or
// less that inflate 1000:1 and more, on every encoding a listener takes. Each is refused
// once past its limit after decompression (413, RESOURCE_EXHAUSTED), and the process's peak
// resident memory (VmHWM, which the kernel keeps) grows by far less than one bomb inflated.

const bin = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const INFLATED = 256 * 1024 * 1024;
const LIMIT_MIB = 4;
let dir: string;
let child: ChildProcess;
let output = '';

const address = (pattern: RegExp) => pattern.exec(output)?.[1] ?? '';
const peakRss = () =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-bombs-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, max_request_body_size: ${LIMIT_MIB * 1024 * 1024} }
      grpc: { endpoint: 127.0.0.1:0, max_recv_msg_size_mib: ${LIMIT_MIB} }
  prometheusremotewrite: { endpoint: 127.0.0.1:0, max_request_body_size: ${LIMIT_MIB * 1024 * 1024} }
exporters:
  debug: { verbosity: basic }
service:
  telemetry: { metrics: { address: 127.0.0.1:0 }, logs: { level: error } }
  decode_threads: 0
  pipelines: { metrics: { receivers: [otlp, prometheusremotewrite], exporters: [debug] } }
`,
  );
  child = spawn(process.execPath, [bin, 'run', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const until = Date.now() + 15_000;
  while (!/admin http:\/\/\S+\/metrics/.test(output)) {
    if (Date.now() > until || child.exitCode !== null) throw new Error(`no start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function post(path: string, url: string, body: Uint8Array, headers: Record<string, string>) {
  return fetch(`${url}${path}`, { method: 'POST', body, headers }).then(async (r) => ({
    status: r.status,
    text: await r.text(),
  }));
}

describe('decompression bombs against sluice run', () => {
  it('refuses each past the limit after decompression, with bounded memory', async () => {
    const otlpUrl = address(/OTLP\/HTTP (http:\/\/[^/\s]+)/);
    const grpcTarget = address(/OTLP\/gRPC (\S+)/);
    const rwUrl = address(/Prometheus remote write (http:\/\/[^/\s]+)/);
    const valid = encodeMetricsRequest(counterBatch(10).batch);
    const otlp = { 'content-type': 'application/x-protobuf' };
    expect((await post('/v1/metrics', otlpUrl, valid, otlp)).status).toBe(200);
    const before = peakRss();

    const zeros = Buffer.alloc(INFLATED);
    const bombs = {
      gzip: gzipSync(zeros, { level: 9 }),
      deflate: deflateSync(zeros, { level: 9 }),
      zstd: zstdCompress(zeros),
    };
    for (const [encoding, bomb] of Object.entries(bombs)) {
      expect(INFLATED / bomb.length, encoding).toBeGreaterThan(1000);
      const answer = await post('/v1/metrics', otlpUrl, bomb, {
        ...otlp,
        'content-encoding': encoding,
      });
      expect(answer.status, encoding).toBe(413);
      expect(answer.text, encoding).toContain('after decompression');
    }
    // gRPC gzip: grpc-js stops inflating at max_recv_msg_size_mib.
    expect(
      await rawExportCall(grpcTarget, grpcFrame(bombs.gzip, true), { 'grpc-encoding': 'gzip' }),
    ).toBe('8'); // RESOURCE_EXHAUSTED
    // Snappy declares its length first: a lying 4 GiB header, and a real 64 MiB block.
    const lying = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x0f, 0x00, 0x00, 0x00]);
    const snappyBomb = snappyCompress(Buffer.alloc(64 * 1024 * 1024));
    for (const body of [lying, snappyBomb]) {
      const answer = await post('/api/v1/write', rwUrl, body, {
        'content-type': 'application/x-protobuf',
        'content-encoding': 'snappy',
      });
      expect(answer.status).toBe(413);
      expect(answer.text).toContain('exceeds max_request_body_size');
    }

    const grown = peakRss() - before;
    console.log(JSON.stringify({ bombs: 'peak RSS growth', bytes: grown, inflatedEach: INFLATED }));
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    // Still serving.
    expect((await post('/v1/metrics', otlpUrl, valid, otlp)).status).toBe(200);
  });
});
