import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Collector } from '../../src/collector/collector.js';
import { NatsSender } from '../../src/exporters/nats/nats-sender.js';
import { RemoteWriteSender } from '../../src/exporters/prometheusremotewrite/remote-write-sender.js';
import { Temporality } from '../../src/index.js';
import { clientTlsOptions } from '../../src/net/client-tls.js';
import { counterBatch, monotonicSums } from '../helpers/batches.js';
import { issue, makePki, type TestPki } from '../helpers/certificates.js';
import { startCollector } from '../helpers/collectors.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { type RunningService, startService, waitForSeries } from '../helpers/services.js';

// Exporter TLS against the real servers users run: nats-server with `--tls --tlsverify`
// (mutual TLS), VictoriaMetrics with `-tls`. Certificates are made by openssl for the test.

let dir: string;
let pki: TestPki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-tls-it-'));
  pki = makePki(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const clientTls = () =>
  `tls: { ca_file: ${pki.caFile}, cert_file: ${pki.client.certFile}, key_file: ${pki.client.keyFile} }`;

describe('nats over mutual TLS (nats-server --tls --tlsverify)', () => {
  let server: RunningService;
  let producer: Collector;
  let consumer: Collector;
  const sink = new OtlpSink();

  beforeAll(async () => {
    server = await startService('nats-server', {
      NATS_TLS_CERT: pki.server.certFile,
      NATS_TLS_KEY: pki.server.keyFile,
      NATS_TLS_CA: pki.caFile,
    });
    await sink.start();
  });
  afterAll(async () => {
    await producer?.shutdown(2_000);
    await consumer?.shutdown(2_000);
    await sink.stop();
    await server?.stop();
  });

  it('the exporter publishes and the receiver consumes every point with a client certificate', async () => {
    producer = await startCollector(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  nats:
    url: nats://${server.address}
    stream: TLS_METRICS
    subject: tls.metrics
    ${clientTls()}
    batch: { max_points: 200, flush_interval: 10ms }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [nats] } }
`);
    consumer = await startCollector(`
receivers:
  nats:
    url: nats://${server.address}
    stream: TLS_METRICS
    consumer: tls-test
    ${clientTls()}
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
service:
  pipelines: { metrics: { receivers: [nats], exporters: [otlphttp] } }
`);
    const { batch, ids } = counterBatch(1_000, 'nats.tls');
    await producer.exporters.get('nats')!.consume(batch);
    await expect
      .poll(() => ids.filter((id) => !sink.deliveredIds().has(id)).length, { timeout: 30_000 })
      .toBe(0);
  });

  it('refuses a client without a certificate, and one that does not trust the server', async () => {
    const signal = new AbortController().signal;
    for (const tls of [
      { ca_file: pki.caFile }, // no client certificate
      { cert_file: pki.client.certFile, key_file: pki.client.keyFile }, // system CAs only
    ]) {
      const sender = new NatsSender({
        url: `nats://${server.address}`,
        stream: 'TLS_METRICS',
        subject: 'tls.metrics',
        partitions: 0,
        createStream: false,
        duplicateWindowMs: 120_000,
        tls: { insecure: false, insecure_skip_verify: false, min_version: '1.2', ...tls },
      });
      await expect(sender.send(counterBatch(1, 'nats.refused').batch, signal)).rejects.toThrow();
      await sender.close();
    }
  });
});

describe('prometheusremotewrite to VictoriaMetrics over HTTPS (-tls)', () => {
  let server: RunningService;
  let collector: Collector;
  let base: string;
  let dispatcher: Agent;

  beforeAll(async () => {
    const vm = issue(dir, 'vm', 'server');
    server = await startService('victoria-metrics', {
      VM_TLS_CERT: vm.certFile,
      VM_TLS_KEY: vm.keyFile,
    });
    base = `https://${server.address}`;
    dispatcher = new Agent({ connect: { ca: pki.ca } });
  });
  afterAll(async () => {
    await collector?.shutdown(2_000);
    await dispatcher?.close();
    await server?.stop();
  });

  it('writes with ca_file, and the samples are there when VictoriaMetrics is asked over HTTPS', async () => {
    collector = await startCollector(`
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  prometheusremotewrite:
    endpoint: ${base}/api/v1/write
    tls: { ca_file: ${pki.caFile} }
    batch: { flush_interval: 10ms }
service:
  pipelines: { metrics: { receivers: [otlp], exporters: [prometheusremotewrite] } }
`);
    const now = BigInt(Date.now()) * 1_000_000n;
    const batch = monotonicSums(
      Temporality.Cumulative,
      Array.from({ length: 50 }, (_, k) => ({
        series: `s${k}`,
        start: now - 1_000_000_000n,
        time: now,
        value: k,
      })),
    );
    await collector.exporters.get('prometheusremotewrite')!.consume(batch);
    const get = (url: string) => undiciFetch(url, { dispatcher });
    const series = await waitForSeries(base, 'c_total', 50, 20_000, get);
    expect(series.map((s) => Number(s.value[1])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, k) => k),
    );
  });

  it('does not send to a server whose certificate it cannot verify', async () => {
    const sender = new RemoteWriteSender({
      endpoint: `${base}/api/v1/write`,
      headers: {},
      connections: 1,
      addSuffixes: true,
      resourceToLabels: false,
      targetInfo: false,
      sendMetadata: false,
      externalLabels: {},
      exponentialHistograms: 'classic',
      exponentialMaxBuckets: 32,
      transport: {
        tls: clientTlsOptions(
          { insecure: false, insecure_skip_verify: false, min_version: '1.2' },
          'test',
        ),
      },
    });
    await expect(
      sender.send(counterBatch(1, 'vm.untrusted').batch, new AbortController().signal),
    ).rejects.toThrow(/certificate/);
    await sender.close();
  });
});
