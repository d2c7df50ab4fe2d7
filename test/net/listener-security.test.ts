import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { gzipSync } from 'node:zlib';
import { credentials, Metadata } from '@grpc/grpc-js';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import bcrypt from 'bcryptjs';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/collector/admin-server.js';
import { Collector } from '../../src/collector/collector.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import type { OtlpReceiver } from '../../src/receivers/otlp/otlp-receiver.js';
import { issue, makeCa, makePki, type TestPki } from '../helpers/certificates.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { grpcFrame, rawExportCall } from '../helpers/raw-grpc.js';
import { collectSdkMetrics } from '../helpers/sdk-data.js';

// Every listener takes TLS (mutual when it names a client CA, reloaded while it runs) and an
// authenticator; these tests drive them with the official OpenTelemetry exporters as the
// clients, with certificates made by openssl for the test.

let dir: string;
let pki: TestPki;
let data: ResourceMetrics;
const sink = new OtlpSink();
const running: { collector?: Collector; admin?: AdminServer }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-tls-'));
  pki = makePki(dir);
  data = await collectSdkMetrics({ series: 3 });
  await sink.start();
});
afterEach(async () => {
  for (const { collector, admin } of running.splice(0)) {
    await admin?.stop();
    await collector?.shutdown(2_000);
  }
});
afterAll(async () => {
  await sink.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Log lines the collector wrote, as text. */
function capturedLogger(level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

async function start(yaml: string, logger = pino({ level: 'silent' })): Promise<Collector> {
  const collector = new Collector(parseConfig(yaml), logger);
  running.push({ collector });
  await collector.start();
  return collector;
}

function otlp(collector: Collector): OtlpReceiver {
  return collector.receivers.get('otlp') as unknown as OtlpReceiver;
}

/** One export by an official exporter: true when it succeeded. */
function exportOnce(exporter: PushMetricExporter): Promise<boolean> {
  return new Promise((resolve) =>
    exporter.export(data, (result) => {
      void exporter.shutdown();
      resolve(result.code === ExportResultCode.SUCCESS);
    }),
  );
}

const toSink = () => `
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${sink.port}
    compression: none
    batch: { flush_interval: 10ms }
    retry_on_failure: { enabled: false }
`;

async function metricsOf(collector: Collector): Promise<string> {
  const admin = new AdminServer({ address: '127.0.0.1:0' }, () => collector);
  await admin.start();
  try {
    return await (await fetch(`http://${admin.address}/metrics`)).text();
  } finally {
    await admin.stop();
  }
}

describe('TLS on the OTLP receivers', () => {
  it('takes OTLP/HTTP and OTLP/gRPC over TLS from the official exporters; plain text gets nothing', async () => {
    const collector = await start(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile} } }
      grpc: { endpoint: 127.0.0.1:0, tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile}, min_version: "1.3" } }
${toSink()}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } } }
`);
    const { http, grpc } = otlp(collector);
    expect(collector.addresses).toContain(`OTLP/HTTP https://${http!.address}/v1/metrics`);
    const before = sink.accepted.length;
    expect(
      await exportOnce(
        new ProtoExporter({
          url: `https://${http!.address}/v1/metrics`,
          httpAgentOptions: { ca: pki.ca },
        }),
      ),
    ).toBe(true);
    expect(
      await exportOnce(
        new GrpcExporter({
          url: `https://${grpc!.address}`,
          credentials: credentials.createSsl(pki.ca),
        }),
      ),
    ).toBe(true);
    await expect.poll(() => sink.accepted.length - before).toBeGreaterThanOrEqual(2);

    // Plain text to the TLS port gets no HTTP answer; a client that does not trust the
    // certificate's CA is refused by its own check.
    await expect(fetch(`http://${http!.address}/v1/metrics`, { method: 'POST' })).rejects.toThrow();
    expect(
      await exportOnce(new ProtoExporter({ url: `https://${http!.address}/v1/metrics` })),
    ).toBe(false);
    // TLS 1.2 is refused where min_version is 1.3.
    const refused = await new Promise<string>((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(grpc!.address.split(':').pop()),
        ca: pki.ca,
        maxVersion: 'TLSv1.2',
        ALPNProtocols: ['h2'],
      });
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (error) => resolve(error.message));
    });
    expect(refused).toMatch(/version|alert/i);
  });

  it('with client_ca_file, takes only clients with a certificate that CA signed (mutual TLS)', async () => {
    const tls = `tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile}, client_ca_file: ${pki.caFile} }`;
    const collector = await start(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, ${tls} }
      grpc: { endpoint: 127.0.0.1:0, ${tls} }
${toSink()}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } } }
`);
    const { http, grpc } = otlp(collector);
    const url = `https://${http!.address}/v1/metrics`;
    expect(await exportOnce(new ProtoExporter({ url, httpAgentOptions: { ca: pki.ca } }))).toBe(
      false,
    );
    expect(
      await exportOnce(
        new ProtoExporter({
          url,
          httpAgentOptions: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key },
        }),
      ),
    ).toBe(true);
    // A certificate from another CA is no better than none.
    makeCa(dir, 'other');
    const stranger = issue(dir, 'stranger', 'client', 'other');
    expect(
      await exportOnce(
        new ProtoExporter({
          url,
          httpAgentOptions: { ca: pki.ca, cert: stranger.cert, key: stranger.key },
        }),
      ),
    ).toBe(false);

    expect(
      await exportOnce(
        new GrpcExporter({
          url: `https://${grpc!.address}`,
          credentials: credentials.createSsl(pki.ca),
          timeoutMillis: 2_000,
        }),
      ),
    ).toBe(false);
    expect(
      await exportOnce(
        new GrpcExporter({
          url: `https://${grpc!.address}`,
          credentials: credentials.createSsl(pki.ca, pki.client.key, pki.client.cert),
        }),
      ),
    ).toBe(true);

    const metrics = await metricsOf(collector);
    const handshakes =
      /sluice_receiver_refused_requests_total\{receiver="otlp",transport="http",reason="tls_handshake"\} (\d+)/.exec(
        metrics,
      );
    expect(Number(handshakes?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('reloads a rotated certificate without a restart (OTLP/HTTP and OTLP/gRPC)', async () => {
    const certFile = join(dir, 'live.pem');
    const keyFile = join(dir, 'live.key');
    writeFileSync(certFile, pki.server.cert);
    writeFileSync(keyFile, pki.server.key);
    const { logger, lines } = capturedLogger();
    const collector = await start(
      `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, tls: { cert_file: ${certFile}, key_file: ${keyFile}, reload_interval: 50ms } }
      grpc: { endpoint: 127.0.0.1:0, tls: { cert_file: ${certFile}, key_file: ${keyFile}, reload_interval: 50ms } }
${toSink()}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } } }
`,
      logger,
    );
    const address = otlp(collector).http!.address;
    const grpcAddress = otlp(collector).grpc!.address;
    const served = (at = address) =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: Number(at.split(':').pop()),
          ca: pki.ca,
          ALPNProtocols: at === grpcAddress ? ['h2'] : undefined,
        });
        socket.once('secureConnect', () => {
          resolve(socket.getPeerCertificate().subject.CN as string);
          socket.destroy();
        });
        socket.once('error', reject);
      });
    expect(await served()).toBe('server');
    expect(await served(grpcAddress)).toBe('server');

    const rotated = issue(dir, 'rotated', 'server');
    // The key first, then the certificate: in between the pair does not match, and the
    // listener must keep serving the old one.
    writeFileSync(keyFile, rotated.key);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await served()).toBe('server');
    writeFileSync(certFile, rotated.cert);
    await expect.poll(served, { timeout: 5_000 }).toBe('rotated');
    await expect.poll(() => served(grpcAddress), { timeout: 5_000 }).toBe('rotated');
    expect(
      await exportOnce(
        new ProtoExporter({
          url: `https://${address}/v1/metrics`,
          httpAgentOptions: { ca: pki.ca },
        }),
      ),
    ).toBe(true);
    expect(lines.join('')).toContain('reloaded the TLS certificate');
  });
});

describe('authentication on the listeners', () => {
  it('bearertokenauth: 401 / UNAUTHENTICATED without the token, counted, logged with the peer only; a changed token file is taken', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first-secret-token\n');
    const { logger, lines } = capturedLogger();
    const collector = await start(
      `
extensions:
  bearertokenauth: { filename: ${tokenFile} }
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
      grpc: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
${toSink()}
service:
  extensions: [bearertokenauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`,
      logger,
    );
    const { http, grpc } = otlp(collector);
    const viaHttp = (token?: string) =>
      exportOnce(
        new ProtoExporter({
          url: `http://${http!.address}/v1/metrics`,
          headers: token ? { Authorization: `Bearer ${token}` } : {},
          timeoutMillis: 2_000,
        }),
      );
    const viaGrpc = (token?: string) => {
      const metadata = new Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      return exportOnce(
        new GrpcExporter({ url: `http://${grpc!.address}`, metadata, timeoutMillis: 2_000 }),
      );
    };
    expect(await viaHttp('first-secret-token')).toBe(true);
    expect(await viaGrpc('first-secret-token')).toBe(true);
    expect(await viaHttp()).toBe(false);
    expect(await viaHttp('wrong-secret-token')).toBe(false);
    expect(await viaGrpc('wrong-secret-token')).toBe(false);

    const response = await fetch(`http://${http!.address}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: 'Bearer nope-token' },
      body: new Uint8Array(10),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.text()).toBe('unauthenticated\n');

    // The token file changes: the old token stops working, the new one works.
    writeFileSync(tokenFile, 'second-secret-token\n');
    await expect.poll(() => viaHttp('first-secret-token'), { timeout: 5_000 }).toBe(false);
    expect(await viaHttp('second-secret-token')).toBe(true);
    expect(await viaGrpc('second-secret-token')).toBe(true);

    const metrics = await metricsOf(collector);
    expect(metrics).toMatch(
      /sluice_receiver_refused_requests_total\{receiver="otlp",transport="http",reason="unauthenticated"\} [3-9]\n/,
    );
    expect(metrics).toContain(
      'sluice_receiver_refused_requests_total{receiver="otlp",transport="grpc",reason="unauthenticated"} 1\n',
    );
    const log = lines.join('');
    expect(log).toContain('refused a request without valid credentials');
    expect(log).toContain('"peer":');
    for (const secret of [
      'first-secret-token',
      'second-secret-token',
      'wrong-secret-token',
      'nope-token',
    ])
      expect(log + metrics).not.toContain(secret);
  });

  it('gRPC: a call without credentials is refused before its message is read', async () => {
    const collector = await start(`
extensions:
  bearertokenauth: { token: grpc-secret-token }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:0, max_recv_msg_size_mib: 1, auth: { authenticator: bearertokenauth } }
${toSink()}
service:
  extensions: [bearertokenauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`);
    // 16 MiB of zeros, gzip-compressed: over the limit once inflated. Without credentials the
    // answer is UNAUTHENTICATED (16), not RESOURCE_EXHAUSTED (8): it was never inflated.
    const message = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const call = (token?: string) =>
      rawExportCall(otlp(collector).grpc!.address, grpcFrame(message, true), {
        'grpc-encoding': 'gzip',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      });
    expect(await call()).toBe('16');
    expect(await call('grpc-secret-token')).toBe('8');
  });

  it('basicauth: htpasswd users (bcrypt and SHA) let in, anyone else 401 with a Basic challenge', async () => {
    const hash = bcrypt.hashSync('correct horse', 4);
    const sha = `{SHA}${createHash('sha1').update('battery staple').digest('base64')}`;
    const collector = await start(`
extensions:
  basicauth:
    htpasswd:
      inline: |
        alice:${hash}
        bob:${sha}
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, auth: { authenticator: basicauth } }
${toSink()}
service:
  extensions: [basicauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`);
    const url = `http://${otlp(collector).http!.address}/v1/metrics`;
    const as = (user: string, password: string) =>
      exportOnce(
        new ProtoExporter({
          url,
          headers: {
            Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
          },
          timeoutMillis: 2_000,
        }),
      );
    expect(await as('alice', 'correct horse')).toBe(true);
    expect(await as('alice', 'correct horse')).toBe(true);
    expect(await as('bob', 'battery staple')).toBe(true);
    expect(await as('alice', 'battery staple')).toBe(false);
    expect(await as('mallory', 'correct horse')).toBe(false);
    const response = await fetch(url, { method: 'POST' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="sluice"/);
  });

  it('the remote-write receiver, the scrape endpoint and the admin server take tls and auth too', async () => {
    const collector = await start(`
extensions:
  bearertokenauth/scrape: { token: scrape-secret-token }
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
    tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile} }
    auth: { authenticator: bearertokenauth/scrape }
exporters:
  prometheus:
    endpoint: 127.0.0.1:0
    tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile} }
    auth: { authenticator: bearertokenauth/scrape }
service:
  extensions: [bearertokenauth/scrape]
  pipelines: { metrics: { receivers: [prometheusremotewrite], exporters: [prometheus] } }
`);
    const { Agent, fetch: undiciFetch } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: pki.ca } });
    const get = (url: string, token?: string) =>
      undiciFetch(url, {
        dispatcher,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }).then((r) => r.status);
    const rw = collector.receivers.get('prometheusremotewrite')!;
    expect(rw.addresses[0]).toMatch(/^Prometheus remote write https:\/\//);
    const rwUrl = rw.addresses[0].split(' ').pop()!;
    expect(await get(rwUrl)).toBe(401);
    expect(await get(rwUrl, 'scrape-secret-token')).toBe(405); // authenticated; GET is not POST
    const scrape = collector.exporters.get('prometheus')!.addresses![0].split(' ').pop()!;
    expect(scrape).toMatch(/^https:\/\//);
    expect(await get(scrape)).toBe(401);
    expect(await get(scrape, 'scrape-secret-token')).toBe(200);

    const admin = new AdminServer(
      {
        address: '127.0.0.1:0',
        tls: {
          cert_file: pki.server.certFile,
          key_file: pki.server.keyFile,
          min_version: '1.2',
          reload_interval: 0,
        },
        authenticator: collector.auth('bearertokenauth/scrape').serverAuthenticator,
      },
      () => collector,
    );
    running.push({ admin });
    await admin.start();
    expect(await get(admin.url('/metrics'))).toBe(401);
    expect(await get(admin.url('/metrics'), 'scrape-secret-token')).toBe(200);
    // The dashboard and its API sit behind the same TLS and auth.
    for (const path of ['/', '/assets/dashboard.js', '/api/status', '/api/cardinality']) {
      expect(await get(admin.url(path)), path).toBe(401);
      expect(await get(admin.url(path), 'scrape-secret-token'), path).toBe(200);
    }
    const metrics = await (
      await undiciFetch(admin.url('/metrics'), {
        dispatcher,
        headers: { authorization: 'Bearer scrape-secret-token' },
      })
    ).text();
    expect(metrics).toContain('sluice_admin_refused_requests_total{reason="unauthenticated"} 5\n');
    expect(metrics).toContain(
      'sluice_exporter_refused_requests_total{exporter="prometheus",reason="unauthenticated"} 1\n',
    );
    expect(metrics).not.toContain('scrape-secret-token');
    await dispatcher.close();
  });
});

describe('exposure and slow clients', () => {
  it('warns at start about a listener beyond loopback with neither TLS nor auth, not about one with auth', async () => {
    const { logger, lines } = capturedLogger();
    await start(
      `
extensions:
  bearertokenauth: { token: some-token-value }
receivers:
  otlp:
    protocols:
      http: { endpoint: 0.0.0.0:0 }
      grpc: { endpoint: 0.0.0.0:0, auth: { authenticator: bearertokenauth } }
${toSink()}
service:
  extensions: [bearertokenauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`,
      logger,
    );
    const warnings = lines.filter((line) => line.includes('without TLS or auth'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"listener":"OTLP/HTTP"');
  });

  it('closes a connection that trickles its headers, and answers 408 to a body that never arrives', async () => {
    const collector = await start(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, read_header_timeout: 300ms, read_timeout: 600ms }
${toSink()}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } } }
`);
    const port = Number(otlp(collector).http!.address.split(':').pop());
    const trickle = (head: string, thenEvery: string) =>
      new Promise<{ ms: number; answer: string }>((resolve) => {
        const began = Date.now();
        let answer = '';
        const socket = netConnect({ host: '127.0.0.1', port });
        socket.write(head);
        const timer = setInterval(() => socket.write(thenEvery), 50);
        socket.on('data', (chunk) => {
          answer += chunk.toString();
        });
        socket.on('error', () => {});
        socket.on('close', () => {
          clearInterval(timer);
          resolve({ ms: Date.now() - began, answer });
        });
        setTimeout(() => socket.destroy(), 10_000).unref();
      });
    // Headers one byte every 50 ms, never finished.
    const headers = await trickle('POST /v1/metrics HTTP/1.1\r\nHost: x\r\n', 'X');
    expect(headers.ms).toBeLessThan(5_000);
    expect(headers.answer).toMatch(/^HTTP\/1.1 408/);
    // Complete headers, then a body of 1000 bytes one byte every 50 ms.
    const body = await trickle(
      'POST /v1/metrics HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n',
      '\0',
    );
    expect(body.ms).toBeLessThan(5_000);
    expect(body.answer).toMatch(/^HTTP\/1.1 408/);
  });
});

describe('exporters over TLS with credentials', () => {
  it('otlphttp and otlp reach a collector that wants mutual TLS and a token, through ca_file, a client certificate and bearertokenauth', async () => {
    const serverTls = `tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile}, client_ca_file: ${pki.caFile} }`;
    const gateway = await start(`
extensions:
  bearertokenauth: { token: chain-secret-token }
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, ${serverTls}, auth: { authenticator: bearertokenauth } }
      grpc: { endpoint: 127.0.0.1:0, ${serverTls}, auth: { authenticator: bearertokenauth } }
${toSink()}
service:
  extensions: [bearertokenauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`);
    const { http, grpc } = otlp(gateway);
    const clientTls = `tls: { ca_file: ${pki.caFile}, cert_file: ${pki.client.certFile}, key_file: ${pki.client.keyFile} }`;
    const edge = await start(`
extensions:
  bearertokenauth: { token: chain-secret-token }
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0 }
exporters:
  otlphttp:
    endpoint: https://${http!.address}
    ${clientTls}
    auth: { authenticator: bearertokenauth }
    batch: { flush_interval: 10ms }
    retry_on_failure: { enabled: false }
  otlp:
    endpoint: https://${grpc!.address}
    ${clientTls}
    auth: { authenticator: bearertokenauth }
    batch: { flush_interval: 10ms }
    retry_on_failure: { enabled: false }
service:
  extensions: [bearertokenauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp, otlp] } }
`);
    const before = sink.accepted.reduce((n, r) => n + r.points, 0);
    expect(
      await exportOnce(new ProtoExporter({ url: `http://${otlp(edge).http!.address}/v1/metrics` })),
    ).toBe(true);
    // Both exporters delivered every point: the sink holds them twice.
    const points = data.scopeMetrics
      .flatMap((s) => s.metrics)
      .reduce((n, m) => n + m.dataPoints.length, 0);
    await expect
      .poll(() => sink.accepted.reduce((n, r) => n + r.points, 0) - before, { timeout: 5_000 })
      .toBe(points * 2);
    const metrics = await metricsOf(gateway);
    expect(metrics).not.toContain('reason="unauthenticated"');
  });
});

describe('secrets', () => {
  it('never appear in config errors, logs or /metrics', async () => {
    const { parseConfig: parse } = await import('../../src/collector/config/load-config.js');
    let message = '';
    try {
      parse(`
extensions:
  bearertokenauth: { token: 12345678901234, schme: Bearer }
  basicauth: { client_auth: { username: a, password: 98765432109876 } }
receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:1
    headers: { authorization: 5555555555555 }
  postgresql:
    endpoint: postgres://sluice:hunter2hunter2@127.0.0.1:5432/metrics
    pool_size: many
service:
  extensions: [bearertokenauth, basicauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp, postgresql] } }
`);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('extensions.bearertokenauth');
    expect(message).toContain('pool_size');
    for (const secret of ['12345678901234', '98765432109876', '5555555555555', 'hunter2hunter2'])
      expect(message).not.toContain(secret);

    const { logger, lines } = capturedLogger('debug');
    const collector = await start(
      `
extensions:
  bearertokenauth: { token: log-secret-token }
  basicauth: { client_auth: { username: u, password: log-secret-password } }
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, auth: { authenticator: bearertokenauth } }
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${sink.port}
    auth: { authenticator: basicauth }
    batch: { flush_interval: 10ms }
service:
  extensions: [bearertokenauth, basicauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`,
      logger,
    );
    const url = `http://${otlp(collector).http!.address}/v1/metrics`;
    const before = sink.accepted.length;
    expect(
      await exportOnce(
        new ProtoExporter({ url, headers: { Authorization: 'Bearer log-secret-token' } }),
      ),
    ).toBe(true);
    expect(await exportOnce(new ProtoExporter({ url, timeoutMillis: 2_000 }))).toBe(false);
    await expect.poll(() => sink.accepted.length).toBeGreaterThan(before);
    // The exporter sent its basic credentials.
    expect(sink.accepted.at(-1)!.headers.authorization).toBe(
      `Basic ${Buffer.from('u:log-secret-password').toString('base64')}`,
    );
    const metrics = await metricsOf(collector);
    await collector.shutdown(2_000);
    const everything = lines.join('') + metrics;
    expect(everything).toContain('refused a request without valid credentials');
    for (const secret of [
      'log-secret-token',
      'log-secret-password',
      Buffer.from('u:log-secret-password').toString('base64'),
    ])
      expect(everything).not.toContain(secret);
  });
});

describe('sluice validate', () => {
  it('checks the TLS and auth files: readable, a key that fits its certificate, a token, an htpasswd', async () => {
    const { runCli } = await import('../../src/cli/cli.js');
    const config = join(dir, 'validate.yaml');
    const tokenFile = join(dir, 'validate-token');
    const htpasswd = join(dir, 'validate-htpasswd');
    const write = (server: { cert: string; key: string }, client: string) =>
      writeFileSync(
        config,
        `
extensions:
  bearertokenauth: { filename: ${tokenFile} }
  basicauth: { htpasswd: { file: ${htpasswd} } }
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, tls: { cert_file: ${server.cert}, key_file: ${server.key} }, auth: { authenticator: basicauth } }
exporters:
  otlphttp:
    endpoint: https://127.0.0.1:1
    tls: { ca_file: ${client} }
    auth: { authenticator: bearertokenauth }
service:
  extensions: [bearertokenauth, basicauth]
  pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } }
`,
      );
    const run = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['validate', '--config', config], {
        out: (t: string) => out.push(t),
        err: (t: string) => err.push(t),
      });
      return { code, text: [...out, ...err].join('\n') };
    };
    writeFileSync(tokenFile, 'validate-secret-token\n');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('pw', 4)}\n`);
    write({ cert: pki.server.certFile, key: pki.server.keyFile }, pki.caFile);
    expect(await run()).toMatchObject({ code: 0 });

    // A key that is not the certificate's, a CA file that is not there, an empty token
    // file, an htpasswd with an MD5 entry: each named with its key path.
    write({ cert: pki.server.certFile, key: pki.client.keyFile }, join(dir, 'missing-ca.pem'));
    writeFileSync(tokenFile, '\n');
    writeFileSync(htpasswd, 'bob:$apr1$abc$def\n');
    const { code, text } = await run();
    expect(code).toBe(1);
    expect(text).toContain('receivers.otlp.protocols.http.tls: tls:');
    expect(text).toContain('do not make a usable certificate');
    expect(text).toMatch(/exporters\.otlphttp\.tls: .*missing-ca\.pem.*ENOENT/);
    expect(text).toContain('extensions.bearertokenauth: ');
    expect(text).toContain('the token file is empty');
    expect(text).toContain('extensions.basicauth: ');
    expect(text).toContain('the hash of user "bob" is not bcrypt or {SHA}');
    expect(text).not.toContain('$apr1$abc$def');
  });
});

describe('SluiceMetricExporter over TLS', () => {
  it('sends over mutual TLS with its tls option (HTTP and gRPC), and from the OTEL_* certificate variables', async () => {
    const { SluiceMetricExporter } = await import('../../src/index.js');
    const { readOtlpEnvironment } = await import('../../src/sdk/env.js');
    const serverTls = `tls: { cert_file: ${pki.server.certFile}, key_file: ${pki.server.keyFile}, client_ca_file: ${pki.caFile} }`;
    const collector = await start(`
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:0, ${serverTls} }
      grpc: { endpoint: 127.0.0.1:0, ${serverTls} }
${toSink()}
service: { pipelines: { metrics: { receivers: [otlp], exporters: [otlphttp] } } }
`);
    const { http, grpc } = otlp(collector);
    const quiet = pino({ level: 'silent' });
    const tls = { caFile: pki.caFile, certFile: pki.client.certFile, keyFile: pki.client.keyFile };
    for (const [url, protocol] of [
      [`https://${http!.address}/v1/metrics`, 'http/protobuf'],
      [`https://${grpc!.address}`, 'grpc'],
    ] as const) {
      const exporter = new SluiceMetricExporter({
        url,
        protocol,
        tls,
        logger: quiet,
        meterProvider: false,
        batch: { flushIntervalMs: 10 },
      });
      const result = await new Promise<number>((resolve) =>
        exporter.export(data, (r) => resolve(r.code)),
      );
      expect(result).toBe(ExportResultCode.SUCCESS);
      await exporter.forceFlush();
      expect(exporter.stats.sent, protocol).toBeGreaterThan(0);
      await exporter.shutdown();
    }
    // Without the client certificate, nothing is delivered.
    const refused = new SluiceMetricExporter({
      url: `https://${http!.address}/v1/metrics`,
      tls: { caFile: pki.caFile },
      logger: quiet,
      meterProvider: false,
      batch: { flushIntervalMs: 10 },
      retry: { maxElapsedMs: 200 },
      shutdownDeadlineMillis: 500,
    });
    refused.export(data, () => {});
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(refused.stats.sent).toBe(0);
    await refused.shutdown();

    expect(
      readOtlpEnvironment({
        OTEL_EXPORTER_OTLP_CERTIFICATE: '/ca.pem',
        OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: '/client.pem',
        OTEL_EXPORTER_OTLP_CLIENT_KEY: '/client.key',
      }),
    ).toMatchObject({
      certificateFile: '/ca.pem',
      clientCertificateFile: '/client.pem',
      clientKeyFile: '/client.key',
    });
  });
});
