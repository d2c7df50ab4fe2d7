import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CollectorProcess, freePort, waitUntil } from './faults.js';

const script = new URL('../../scripts/services/nats-server.sh', import.meta.url).pathname;

/** One `nats-server` of a `NatsCluster`, in its own process (which a test may `kill -9`). */
export interface NatsNode {
  name: string;
  port: number;
  process: ChildProcess;
  kill9(): Promise<void>;
}

/**
 * A JetStream cluster of `size` `nats-server` processes (Debian's, installed when missing)
 * on 127.0.0.1, routed to each other, each with its own store in a temporary directory.
 */
export class NatsCluster {
  readonly nodes: NatsNode[] = [];
  #dir = '';

  /** Every node's client URL, comma-separated (as sluice's `url` takes them). */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  }

  async start(size = 3): Promise<void> {
    await promisify(execFile)('bash', [script, 'install'], { timeout: 600_000 });
    this.#dir = await mkdtemp(join(tmpdir(), 'sluice-nats-cluster-'));
    const ports = await Promise.all(
      Array.from({ length: size }, async () => ({
        client: await freePort(),
        cluster: await freePort(),
        monitor: await freePort(),
      })),
    );
    const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
    ports.forEach((p, k) => {
      const name = `n${k + 1}`;
      const child = spawn(
        'nats-server',
        [
          ...['-a', '127.0.0.1', '-p', String(p.client), '-m', String(p.monitor)],
          ...['-n', name, '--cluster_name', 'sluice-test'],
          ...['--cluster', `nats://127.0.0.1:${p.cluster}`, '--routes', routes],
          ...['-js', '-sd', join(this.#dir, name)],
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      this.nodes.push({
        name,
        port: p.client,
        process: child,
        kill9: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    // Ready once every node answers with JetStream up (a meta leader elected).
    await waitUntil(
      'every nats-server of the cluster to have JetStream up',
      async () => {
        const answers = await Promise.all(
          ports.map((p) =>
            fetch(`http://127.0.0.1:${p.monitor}/healthz?js-enabled-only=true`).then(
              (r) => r.ok,
              () => false,
            ),
          ),
        );
        return answers.every(Boolean);
      },
      60_000,
      200,
    );
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) if (node.process.exitCode === null) await node.kill9();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * The partitions a collector with a partitioned `nats` receiver says it holds, from its
 * latest lease log line (`nats: took a partition` / `gave a partition up`).
 */
export function partitionsHeld(member: CollectorProcess): number[] {
  const lines = member.output
    .split('\n')
    .filter((l) => l.includes('"nats: ') && l.includes('"held"'));
  const last = lines.at(-1);
  return last ? (JSON.parse(last).held as number[]) : [];
}
