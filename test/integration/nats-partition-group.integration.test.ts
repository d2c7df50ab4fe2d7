import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsSender } from '../../src/exporters/nats/nats-sender.js';
import { counterBatch } from '../helpers/batches.js';
import { CollectorProcess, freePort, sleep, waitUntil } from '../helpers/faults.js';
import { OtlpSink } from '../helpers/otlp-sink.js';
import { type RunningService, startService } from '../helpers/services.js';

const PARTITIONS = 4;

/**
 * Collectors in their own processes share the partitions of a stream through leases in a
 * JetStream KV bucket (`partitions.assign: auto`): a member killed with -9 has its partitions
 * taken over by the others within a lease (6 s by default), a member that joins gets its
 * share, and every point published arrives.
 */
describe('nats receivers sharing partitions (partitions: auto) through a real nats-server', () => {
  let server: RunningService;
  let sink: OtlpSink;
  let dir: string;
  const members: CollectorProcess[] = [];

  beforeAll(async () => {
    server = await startService('nats-server');
    sink = new OtlpSink();
    await sink.start();
    dir = await mkdtemp(join(tmpdir(), 'sluice-group-'));
  });

  afterAll(async () => {
    for (const member of members) if (member.alive) await member.stop();
    await sink?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function startMember(name: string): Promise<CollectorProcess> {
    const member = new CollectorProcess(dir, name, await freePort());
    await member.start(`
receivers:
  nats:
    url: nats://${server.address}
    stream: GROUP
    consumer: aggregators
    partitions: { count: ${PARTITIONS}, subject: group.otlp }
exporters:
  otlphttp:
    metrics_endpoint: ${sink.url}
    batch: { flush_interval: 10ms }
service:
  telemetry:
    metrics:
      address: ${member.adminUrl.replace('http://', '')}
  pipelines:
    metrics: { receivers: [nats], exporters: [otlphttp] }
`);
    members.push(member);
    return member;
  }

  /** The partitions a member says it holds, from its latest lease log line. */
  function held(member: CollectorProcess): number[] {
    const lines = member.output
      .split('\n')
      .filter((l) => l.includes('"nats: ') && l.includes('"held"'));
    const last = lines.at(-1);
    return last ? (JSON.parse(last).held as number[]) : [];
  }

  it('splits the partitions, moves a killed member’s within a lease, rebalances on join, loses nothing', async () => {
    const sender = new NatsSender({
      url: `nats://${server.address}`,
      stream: 'GROUP',
      subject: 'group.otlp',
      partitions: PARTITIONS,
      createStream: true,
      duplicateWindowMs: 120_000,
    });
    const signal = new AbortController().signal;
    const sent: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      while (publishing) {
        const { batch, ids } = counterBatch(100, 'group.requests');
        await sender.send(batch, signal);
        sent.push(...ids);
        await sleep(50);
      }
    })();
    try {
      const a = await startMember('a');
      const b = await startMember('b');
      await waitUntil(
        'two members holding two partitions each',
        () => {
          const [ha, hb] = [held(a), held(b)];
          return ha.length === 2 && hb.length === 2 && new Set([...ha, ...hb]).size === PARTITIONS;
        },
        30_000,
        100,
      );
      await sleep(1_000);

      await a.kill9(); // mid-load, holding two partitions and messages in hand
      const killedAt = Date.now();
      await waitUntil(
        'b to hold every partition',
        () => held(b).length === PARTITIONS,
        20_000,
        100,
      );
      const takeoverMs = Date.now() - killedAt;
      console.log(`takeover after kill -9: ${takeoverMs} ms`);
      expect(takeoverMs).toBeLessThanOrEqual(10_000);

      const c = await startMember('c');
      await waitUntil(
        'b and c to split the partitions',
        () => {
          const [hb, hc] = [held(b), held(c)];
          return hb.length === 2 && hc.length === 2 && new Set([...hb, ...hc]).size === PARTITIONS;
        },
        30_000,
        100,
      );
      await sleep(1_000);
    } finally {
      publishing = false;
      await publisher;
      await sender.close();
    }
    // Every point published reached the sink, the killed member's unacknowledged ones
    // redelivered to whoever took its partitions.
    await waitUntil(
      'every published point in the sink',
      () => {
        const delivered = sink.deliveredIds();
        return sent.every((id) => delivered.has(id));
      },
      60_000,
      200,
    );
    expect(sent.length).toBeGreaterThan(1_000);
  });
});
