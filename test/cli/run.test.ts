import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeMetricsRequest } from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';

const bin = new URL('../../dist/cli/main.js', import.meta.url).pathname;
let dir: string;
let child: ChildProcess | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-run-'));
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts `sluice` and resolves with its stdout so far once the banner lists the admin server. */
function start(args: string[]): Promise<{ output: () => string; exited: Promise<number | null> }> {
  child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child!.once('exit', (code) => resolve(code)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sluice did not start:\n${output}`)), 15_000);
    const check = setInterval(() => {
      if (/admin http:\/\/\S+\/metrics/.test(output)) {
        clearInterval(check);
        clearTimeout(timer);
        resolve({ output: () => output, exited });
      }
      if (child!.exitCode !== null) {
        clearInterval(check);
        clearTimeout(timer);
        reject(new Error(`sluice exited ${child!.exitCode}:\n${output}`));
      }
    }, 20);
  });
}

describe('sluice run', () => {
  it('runs a config: listens, answers /readyz and /metrics, exports, stops cleanly on SIGTERM', async () => {
    const out = join(dir, 'points.jsonl');
    const config = join(dir, 'collector.yaml');
    await writeFile(
      config,
      `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  filter:
    metrics:
      exclude:
        metric_names: [nothing]
exporters:
  file:
    path: ${out}
    format: flat
    batch:
      flush_interval: 5ms
service:
  telemetry:
    metrics:
      address: 127.0.0.1:0
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [filter]
      exporters: [file]
`,
    );
    const running = await start(['run', '--config', config]);
    const text = running.output();
    const admin = /admin (http:\/\/\S+)\/metrics/.exec(text)![1];
    const otlp = /receiving OTLP\/HTTP (http:\/\/\S+)/.exec(text)![1];
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    const { batch } = counterBatch(7);
    const response = await fetch(otlp, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeMetricsRequest(batch),
    });
    expect(response.status).toBe(200);
    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain(
      'sluice_receiver_accepted_points_total{receiver="otlp",transport="http"} 7',
    );
    expect(metrics).toContain('# TYPE sluice_exporter_queue_points gauge');
    expect(metrics).toContain(
      'sluice_processor_incoming_points_total{processor="filter",pipeline="metrics"} 7',
    );
    expect(metrics).toContain(
      'sluice_processor_outgoing_points_total{processor="filter",pipeline="metrics"} 7',
    );
    child!.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(running.output()).toContain('collector stopped');
  });

  it('SIGHUP reloads a valid config and keeps the running one when the new file is invalid', async () => {
    const config = join(dir, 'collector.yaml');
    const write = (path: string) =>
      writeFile(
        config,
        `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: ${path}\n    format: flat\n    batch:\n      flush_interval: 5ms\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:0\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [file]\n`,
      );
    const first = join(dir, 'first.jsonl');
    const second = join(dir, 'second.jsonl');
    await write(first);
    const running = await start(['run', '--config', config]);
    const latestOtlp = () =>
      [...running.output().matchAll(/receiving OTLP\/HTTP (http:\/\/\S+)/g)].at(-1)![1];
    const send = async (points: number) => {
      const response = await fetch(latestOtlp(), {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: encodeMetricsRequest(counterBatch(points).batch),
      });
      expect(response.status).toBe(200);
    };
    await send(2);
    await writeFile(config, 'receivers: [not, a, map]\n');
    child!.kill('SIGHUP');
    await waitFor(() => running.output().includes('config reload refused'));
    await send(3); // still the first config
    await write(second);
    child!.kill('SIGHUP');
    await waitFor(() => running.output().split('sluice is running').length === 3);
    await send(4);
    child!.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect((await readFile(first, 'utf8')).trim().split('\n')).toHaveLength(5);
    expect((await readFile(second, 'utf8')).trim().split('\n')).toHaveLength(4);
  });

  it('keeps running and exporting when the reader of its log output goes away (EPIPE)', async () => {
    const config = join(dir, 'collector.yaml');
    const out = join(dir, 'points.jsonl');
    await writeFile(
      config,
      `receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  file:\n    path: ${out}\n    format: flat\n    batch:\n      flush_interval: 5ms\nservice:\n  telemetry:\n    metrics:\n      address: 127.0.0.1:0\n  pipelines:\n    metrics:\n      receivers: [otlp]\n      exporters: [file]\n`,
    );
    const running = await start(['run', '--config', config]);
    const otlp = /receiving OTLP\/HTTP (http:\/\/\S+)/.exec(running.output())![1];
    child!.stdout!.destroy(); // the log pipe's reader is gone: the next line fails with EPIPE
    await writeFile(config, 'receivers: [not, a, map]\n');
    child!.kill('SIGHUP'); // logs that the reload was refused
    await waitFor(() => running.output().includes('log output failed'));
    const response = await fetch(otlp, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: encodeMetricsRequest(counterBatch(5).batch),
    });
    expect(response.status).toBe(200);
    child!.kill('SIGTERM');
    expect(await running.exited).toBe(0);
    expect((await readFile(out, 'utf8')).trim().split('\n')).toHaveLength(5);
    expect(running.output()).not.toContain("Unhandled 'error' event");
  });

  it('exits 1 with the problems when the config is invalid', async () => {
    const config = join(dir, 'bad.yaml');
    await writeFile(
      config,
      'receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 99999\nservice:\n  pipelines: {}\n',
    );
    child = spawn(process.execPath, [bin, 'run', '--config', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (chunk) => {
      err += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child!.once('exit', resolve));
    expect(code).toBe(1);
    expect(err).toContain('receivers.otlp.protocols.http.endpoint: expected host:port');
  });

  it('npm start: the built-in default listens on 4317/4318, serves Prometheus on 9464 and admin on 8888, stops on SIGTERM', async () => {
    const running = await start([]);
    expect(running.output()).toContain('receiving OTLP/gRPC 127.0.0.1:4317');
    expect(running.output()).toContain('receiving OTLP/HTTP http://127.0.0.1:4318/v1/metrics');
    expect((await fetch('http://127.0.0.1:8888/readyz')).status).toBe(200);
    expect(running.output()).toContain(
      'exporting to prometheus (scrape http://127.0.0.1:9464/metrics)',
    );
    expect((await fetch('http://127.0.0.1:9464/metrics')).status).toBe(200);
    child!.kill('SIGTERM');
    expect(await running.exited).toBe(0);
  });
});
