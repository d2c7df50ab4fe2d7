import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressSync, uncompressSync } from 'snappy';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeWriteRequest,
  encodeWriteRequest,
  type WriteRequest,
} from '../../src/codec/prometheus/remote-write.js';
import { snappyDeclaredLength } from '../../src/codec/prometheus/snappy-block.js';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import type { Collector } from '../../src/collector/collector.js';
import type { RemoteWriteReceiver } from '../../src/receivers/prometheusremotewrite/remote-write-receiver.js';
import { startCollector } from '../helpers/collectors.js';

/** A remote-write server on 127.0.0.1 keeping every body it gets (uncompressed). */
class RemoteWriteSink {
  readonly bodies: Buffer[] = [];
  /** The bodies as they came, compressed. */
  readonly compressed: Buffer[] = [];
  status = 204;
  /** How long it takes to answer (a slow backend). */
  delayMs = 0;
  /** While set (`hold`), no request is answered until `release`. */
  #held: { promise: Promise<void>; release: () => void } | undefined;
  #server: Server | undefined;

  hold(): void {
    let release = () => {};
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = { promise, release };
  }

  release(): void {
    this.#held?.release();
    this.#held = undefined;
  }

  async start(): Promise<string> {
    this.#server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      this.compressed.push(Buffer.concat(chunks));
      this.bodies.push(uncompressSync(Buffer.concat(chunks)) as Buffer);
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.#held) await this.#held.promise;
      res.writeHead(this.status).end(this.status >= 400 ? 'out of order sample' : '');
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/api/v1/write`;
  }

  samples(): number {
    return this.bodies.reduce(
      (n, body) =>
        n + decodeWriteRequest(body).timeseries.reduce((k, series) => k + series.samples.length, 0),
      0,
    );
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function relay(
  exporterKeys = '',
  receiverKeys = '',
): Promise<{ sink: RemoteWriteSink; collector: Collector; receiver: RemoteWriteReceiver }> {
  const sink = new RemoteWriteSink();
  const url = await sink.start();
  stops.push(() => sink.stop());
  const collector = await startCollector(`
receivers:
  prometheusremotewrite:
    endpoint: 127.0.0.1:0
    ${receiverKeys}
processors:
  batch: {}
exporters:
  prometheusremotewrite:
    endpoint: ${url}
    ${exporterKeys.includes('batch:') ? '' : 'batch: { flush_interval: 10ms }'}
    retry_on_failure: { enabled: false }
    ${exporterKeys}
service:
  pipelines:
    metrics: { receivers: [prometheusremotewrite], processors: [batch], exporters: [prometheusremotewrite] }
`);
  stops.push(() => collector.shutdown(2_000));
  const receiver = collector.receivers.get(
    'prometheusremotewrite',
  ) as unknown as RemoteWriteReceiver;
  return { sink, collector, receiver };
}

function write(receiver: RemoteWriteReceiver, body: Uint8Array): Promise<Response> {
  return fetch(`http://${receiver.address}/api/v1/write`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
    body: compressSync(Buffer.from(body)),
  });
}

let nextSeries = 0;
/** `series` series of two samples each, with metadata, as Prometheus sends them. */
function writeRequest(series: number): WriteRequest {
  return {
    timeseries: Array.from({ length: series }, () => ({
      labels: [
        ['__name__', 'http_requests_total'],
        ['instance', 'h1:9100'],
        ['job', 'api'],
        ['route', `/r${nextSeries++}`],
      ] as [string, string][],
      samples: [
        { value: 1, timestampMs: 1_700_000_000_000 },
        { value: 2, timestampMs: 1_700_000_015_000 },
      ],
    })),
    metadata: [{ type: 1, family: 'http_requests_total', help: 'Requests.', unit: '' }],
  };
}

async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('prometheusremotewrite → batch → prometheusremotewrite carries requests as they came', () => {
  it('hands the bytes on unchanged: no translation through OTel and back', async () => {
    const { sink, collector, receiver } = await relay();
    const sent: Uint8Array[] = [];
    for (let k = 0; k < 10; k++) {
      const body = encodeWriteRequest(writeRequest(20));
      sent.push(body);
      expect((await write(receiver, body)).status).toBe(204);
    }
    await until(() => sink.samples() === 400, 'every sample');
    // The requests went on still compressed as the client compressed them: each body the
    // backend got is some of the client's snappy blocks joined (their elements in a row
    // under one length), every block exactly once, none uncompressed and compressed again.
    const elements = (block: Buffer) => block.subarray(snappyDeclaredLength(block).start);
    const blocks = sent.map((body) => elements(compressSync(Buffer.from(body))).toString('hex'));
    const found: number[] = [];
    for (const body of sink.compressed) {
      let rest = elements(body).toString('hex');
      while (rest.length > 0) {
        const k = blocks.findIndex((block, j) => !found.includes(j) && rest.startsWith(block));
        expect(k).toBeGreaterThanOrEqual(0);
        found.push(k);
        rest = rest.slice(blocks[k].length);
      }
    }
    expect(found.sort((a, b) => a - b)).toEqual(sent.map((_, k) => k));
    expect(Buffer.concat(sink.bodies).length).toBe(Buffer.concat(sent).length);
    // Metadata and names exactly as sent (the translation would have made a `_total`-less
    // OTel sum of it, then its own name and metadata again).
    expect(decodeWriteRequest(sink.bodies[0]).metadata[0]).toEqual({
      type: 1,
      family: 'http_requests_total',
      help: 'Requests.',
      unit: '',
    });
    expect(receiver.stats).toMatchObject({ requests: 10, relayed: 10, accepted: 400 });
    expect(collector.relays.get('prometheusremotewrite')).toEqual(['prometheus-remote-write']);
    expect(collector.exporterCounts.get('prometheusremotewrite')).toEqual({ in: 400 });
  });

  it('refuses what the decoder refuses, with its message; decodes what it does not carry', async () => {
    const { sink, receiver } = await relay('', 'max_attributes_per_point: 4');
    const good = Buffer.from(encodeWriteRequest(writeRequest(1)));

    const badText = Buffer.from(good);
    badText[badText.indexOf('api')] = 0xff;
    const refused = await write(receiver, badText);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/valid UTF-8/);

    const badType = encodeWriteRequest({
      timeseries: [],
      metadata: [{ type: 9, family: 'x', help: '', unit: '' }],
    });
    const typed = await write(receiver, badType);
    expect(typed.status).toBe(400);
    expect(await typed.text()).toMatch(/MetricMetadata type from 0 to 7/);

    // Six labels: over the limit for the relay's check, but job and instance become the
    // resource and __name__ the metric, so the decoded point has three attributes: accepted.
    const wide = writeRequest(1);
    wide.timeseries[0].labels.push(['a', '1'], ['b', '2']);
    expect((await write(receiver, encodeWriteRequest(wide))).status).toBe(204);

    const tooWide = writeRequest(1);
    tooWide.timeseries[0].labels.push(['a', '1'], ['b', '2'], ['c', '3'], ['d', '4']);
    const over = await write(receiver, encodeWriteRequest(tooWide));
    expect(over.status).toBe(400);
    expect(await over.text()).toMatch(/over max_attributes_per_point 4/);

    expect((await write(receiver, good)).status).toBe(204);
    await until(() => sink.samples() >= 4, 'the samples');
    expect(receiver.stats).toMatchObject({ requests: 5, malformed: 3, relayed: 1 });
  });

  it('refuses a request unread while the queue is at its limit, and takes it once there is room', async () => {
    const { sink, receiver } = await relay('sending_queue: { num_consumers: 1, queue_size: 20 }');
    // Answering nothing until released: the queue stays at its limit while the test looks,
    // however long a loaded machine takes between requests.
    sink.hold();
    // A body that is no snappy block: a 400 when read, a 429 while the queue has no room. The
    // exporter may still take a batch off the queue after a 429 (it cuts the next one while a
    // send is out), making room once: fill it again and retry.
    const garbage = () =>
      fetch(`http://${receiver.address}/api/v1/write`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        body: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      });
    const statuses: number[] = [];
    let refusedUnread: Response | undefined;
    let unread = 0;
    let malformed = 0;
    for (let attempt = 0; attempt < 5 && !refusedUnread; attempt++) {
      let status = 0;
      for (let k = 0; status !== 429 && k < 10; k++) {
        const response = await write(receiver, encodeWriteRequest(writeRequest(5)));
        status = response.status;
        statuses.push(status);
        if (status === 429) expect(response.headers.get('retry-after')).toBe('1');
      }
      expect(status).toBe(429);
      unread = receiver.stats.refusedRequests.queue_full ?? 0;
      malformed = receiver.stats.malformed;
      const response = await garbage();
      if (response.status === 429) refusedUnread = response;
      else expect(response.status).toBe(400);
    }
    expect(refusedUnread?.status).toBe(429);
    expect(await refusedUnread!.text()).toContain('queue full');
    expect(receiver.stats.refusedRequests.queue_full).toBe(unread + 1);
    expect(receiver.stats.malformed).toBe(malformed);
    sink.release();
    // Retried until there is room, as Prometheus does: every sample arrives once.
    const retried = encodeWriteRequest(writeRequest(5));
    let status = 429;
    for (let k = 0; status === 429 && k < 300; k++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await write(receiver, retried)).status;
    }
    expect(status).toBe(204);
    const accepted = statuses.filter((s) => s === 204).length + 1;
    await until(() => sink.samples() === accepted * 10, 'every accepted sample');
    expect(receiver.stats.accepted).toBe(accepted * 10);
  });

  it('translates when the exporter changes what it sends (external_labels)', async () => {
    const { sink, collector, receiver } = await relay('external_labels: { cluster: eu-1 }');
    expect(collector.relays.has('prometheusremotewrite')).toBe(false);
    expect((await write(receiver, encodeWriteRequest(writeRequest(3)))).status).toBe(204);
    const requests = () =>
      decodeWriteRequest(Buffer.concat(sink.bodies)).timeseries.filter((s) =>
        s.labels.some(([k, v]) => k === '__name__' && v === 'http_requests_total'),
      );
    await until(() => requests().reduce((n, s) => n + s.samples.length, 0) === 6, 'the samples');
    for (const series of requests()) expect(series.labels).toContainEqual(['cluster', 'eu-1']);
    expect(receiver.stats.relayed).toBe(0);
  });

  it("translates and cuts a request over the exporter's batch limits instead of sending it whole", async () => {
    const { sink, receiver } = await relay('batch: { flush_interval: 10ms, max_points: 10 }');
    expect((await write(receiver, encodeWriteRequest(writeRequest(20)))).status).toBe(204);
    const requests = () =>
      sink.bodies
        .map((body) => decodeWriteRequest(body).timeseries)
        .map((series) =>
          series.filter((s) =>
            s.labels.some(([k, v]) => k === '__name__' && v === 'http_requests_total'),
          ),
        );
    await until(
      () =>
        requests()
          .flat()
          .reduce((n, s) => n + s.samples.length, 0) === 40,
      'every sample',
    );
    // No request over 10 points (a sample each here), every one of the 20 series there.
    for (const series of requests())
      expect(series.reduce((n, s) => n + s.samples.length, 0)).toBeLessThanOrEqual(10);
    expect(
      new Set(
        requests()
          .flat()
          .map((s) => JSON.stringify(s.labels)),
      ).size,
    ).toBe(20);
    expect(receiver.stats.relayed).toBe(1);
  });

  it('writes a request the backend refuses to dead letters as OTLP, every sample kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rw-relay-'));
    stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    const { sink, collector, receiver } = await relay(`dead_letter_dir: ${dir}`);
    sink.status = 400;
    expect((await write(receiver, encodeWriteRequest(writeRequest(5)))).status).toBe(204);
    const exporter = collector.exporters.get('prometheusremotewrite')!;
    await until(
      () => (exporter.engine?.stats.deadLettered.permanent ?? 0) === 10,
      'the dead letter',
    );
    const files = readdirSync(dir).filter((f) => f.endsWith('.binpb'));
    expect(files.length).toBeGreaterThan(0);
    const batch = decodeMetricsRequest(readFileSync(join(dir, files[0])));
    expect(batch.pointCount).toBe(10);
  });
});
