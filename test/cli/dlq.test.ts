import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { DeliveryEngine, OtlpHttpSender } from '../../src/index.js';
import { counterBatch } from '../helpers/batches.js';
import { OtlpSink } from '../helpers/otlp-sink.js';

let refusing: OtlpSink;
let healthy: OtlpSink;
let dir: string;

beforeEach(async () => {
  refusing = new OtlpSink();
  refusing.reply = () => ({ status: 401, body: 'bad token' });
  healthy = new OtlpSink();
  await refusing.start();
  await healthy.start();
  dir = await mkdtemp(join(tmpdir(), 'sluice-dlq-cli-'));
});
afterEach(async () => {
  await refusing.stop();
  await healthy.stop();
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function makeDeadLetters(): Promise<string[]> {
  const engine = new DeliveryEngine({
    sender: new OtlpHttpSender({ url: refusing.url }),
    deadLetterDir: dir,
    batch: { flushIntervalMs: 5, maxPoints: 5 },
    logger: pino({ level: 'silent' }),
  });
  const { batch, ids } = counterBatch(12);
  await engine.consume(batch);
  await engine.shutdown({ deadlineMs: 2_000 });
  return ids;
}

describe('sluice dlq', () => {
  it('lists dead letters with reason, status and message', async () => {
    await makeDeadLetters();
    const listed = await run(['dlq', 'list', '--dir', dir]);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain('permanent');
    expect(listed.out).toContain('401');
    expect(listed.out).toContain('bad token');
    expect(listed.out).toContain('3 dead letters, 12 points');
    const json = JSON.parse((await run(['dlq', 'list', '--dir', dir, '--json'])).out);
    expect(json.map((r: { points: number }) => r.points)).toEqual([5, 5, 2]);
  });

  it('shows the points of every dead letter, or of one, as JSON lines', async () => {
    const ids = await makeDeadLetters();
    const all = await run(['dlq', 'show', '--dir', dir]);
    expect(all.code).toBe(0);
    const lines = all.out.split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.attributes.id).sort()).toEqual([...ids].sort());
    expect(lines[0]).toMatchObject({ name: 'requests', type: 'sum' });
    const [first] = JSON.parse((await run(['dlq', 'list', '--dir', dir, '--json'])).out);
    const one = await run(['dlq', 'show', '--dir', dir, first.file]);
    expect(one.out.split('\n')).toHaveLength(first.points);
    expect((await run(['dlq', 'show', '--dir', dir, 'nope'])).code).toBe(1);
  });

  it('replays them to a healthy endpoint and moves them aside', async () => {
    const ids = await makeDeadLetters();
    const replayed = await run(['dlq', 'replay', '--dir', dir, '--to', healthy.url]);
    expect(replayed.code).toBe(0);
    expect(replayed.out).toContain('3 of 3 dead letters replayed');
    expect([...healthy.deliveredIds()].sort()).toEqual([...ids].sort());
    expect((await readdir(dir)).filter((f) => f.endsWith('.binpb'))).toEqual([]);
    expect((await readdir(join(dir, 'replayed'))).filter((f) => f.endsWith('.binpb'))).toHaveLength(
      3,
    );
    expect((await run(['dlq', 'list', '--dir', dir])).out).toContain('no dead letters');
  });

  it('keeps what still fails and exits 1', async () => {
    await makeDeadLetters();
    const replayed = await run(['dlq', 'replay', '--dir', dir, '--to', refusing.url]);
    expect(replayed.code).toBe(1);
    expect(replayed.err).toContain('HTTP 401: bad token');
    expect((await readdir(dir)).filter((f) => f.endsWith('.binpb'))).toHaveLength(3);
  });

  it('explains missing options', async () => {
    expect((await run(['dlq', 'list'])).err).toContain('dlq needs --dir DIR');
    expect((await run(['dlq', 'replay', '--dir', dir])).err).toContain('dlq replay needs --to URL');
    expect((await run(['dlq', 'frob', '--dir', dir])).code).toBe(2);
  });
});
