import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CollectorProcess, freePort, waitUntil } from '../helpers/faults.js';
import { NatsCluster } from '../helpers/nats-cluster.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { refEncode } from '../helpers/reference.js';

/** Retries a JetStream API call while the new cluster elects its leaders. */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 30) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** An OTLP request of one counter point whose `id` attribute is `id`. */
function request(id: string): Uint8Array {
  return refEncode({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'stall.requests',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [
                    {
                      attributes: [{ key: 'id', value: { stringValue: id } }],
                      startTimeUnixNano: '1700000000000000000',
                      timeUnixNano: '1700000001000000000',
                      asInt: 1,
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

/**
 * A pull lost on the server's side: after its consumer's leader steps down, nats-server 2.9
 * (Debian's) forgets the pull requests waiting on the old leader, and the client pulls again
 * only once it misses two of the server's heartbeats — measured: messages published then
 * reached a bare nats.js consumer 42 s later. The receiver notices that the server holds
 * messages for it that never come, and pulls again.
 */
describe('nats receiver with a pull lost in a consumer leader change', () => {
  const cluster = new NatsCluster();
  let sink: OtlpSink;
  let nc: NatsConnection;
  let dir: string;
  let collector: CollectorProcess;

  beforeAll(async () => {
    await cluster.start(3);
    sink = new OtlpSink();
    await sink.start();
    dir = await mkdtemp(join(tmpdir(), 'sluice-stall-'));
    nc = await connect({ servers: cluster.url.split(',') });
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    await retried(() => jsm.streams.add({ name: 'STALL', subjects: ['stall.>'], num_replicas: 3 }));
  });

  afterAll(async () => {
    if (collector?.alive) await collector.kill9();
    await nc?.close();
    await sink?.stop();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('pulls again when the server holds messages for it that never come', async () => {
    collector = new CollectorProcess(dir, 'consumer', await freePort());
    await collector.start(`receivers:
  nats:
    url: ${cluster.url}
    stream: STALL
    consumer: stalled
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
service:
  telemetry:
    metrics:
      address: ${collector.adminUrl.replace('http://', '')}
  pipelines:
    metrics: { receivers: [nats], exporters: [otlphttp] }
`);
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    // The receiver's pull is waiting on the consumer's leader.
    await waitUntil(
      'the receiver to pull',
      async () =>
        ((await jsm.consumers.info('STALL', 'stalled').catch(() => undefined))?.num_waiting ?? 0) >
        0,
      30_000,
      200,
    );
    const stepdown = await retried(() =>
      nc.request('$JS.API.CONSUMER.LEADER.STEPDOWN.STALL.stalled', new Uint8Array(), {
        timeout: 5_000,
      }),
    );
    expect(stepdown.json<{ success?: boolean }>().success).toBe(true);
    const js = nc.jetstream();
    const ids = Array.from({ length: 10 }, (_, k) => `stall-${k}`);
    for (const id of ids) await js.publish('stall.otlp', request(id));

    await waitUntil(
      'every message in the sink',
      () => {
        const delivered = sink.deliveredIds();
        return ids.every((id) => delivered.has(id));
      },
      // The receiver asks after 10 s without a message, every 2.5 s: well within this. The
      // client alone took 42 s.
      30_000,
      200,
    );
    expect(collector.output).toContain(
      'nats: consumer gets none of its pending messages; pulling again',
    );
    // And counted, for an alert.
    const metrics = await (await fetch(`${collector.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /^sluice_receiver_stalls_total\{receiver="nats",transport="nats",action="pull_again"\} [1-9]/m,
    );
  }, 90_000);
});
