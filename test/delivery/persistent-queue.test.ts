import { cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMetricsRequest } from '../../src/codec/protobuf/decode-request.js';
import type { EncodedRequest } from '../../src/codec/protobuf/encoded-request.js';
import { DeliveryEngine } from '../../src/delivery/delivery-engine.js';
import { RetryableError } from '../../src/delivery/errors.js';
import type { Payload, Work } from '../../src/delivery/memory-queue.js';
import {
  PersistentQueue,
  type PersistentQueueOptions,
} from '../../src/delivery/persistent/persistent-queue.js';
import { RECORD_HEADER_BYTES, SEGMENT_MAGIC } from '../../src/delivery/persistent/record-format.js';
import { MetricBatch } from '../../src/model/metric-batch.js';
import { counterBatch } from '../helpers/batches.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const queues: PersistentQueue[] = [];

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-pq-'));
  dirs.push(dir);
  return dir;
}

function queueIn(
  directory: string,
  options: Partial<PersistentQueueOptions> = {},
): PersistentQueue {
  const queue = new PersistentQueue({
    directory,
    fsync: 'interval',
    fsyncIntervalMs: 50,
    maxSizeBytes: 64 * 1024 * 1024,
    whenFull: 'block',
    maxRequestPoints: 1000,
    maxRequestBytes: 1024 * 1024,
    decode: false,
    logger,
    ...options,
  });
  queues.push(queue);
  return queue;
}

afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.dispose();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** The `id` attribute of every point, in order. */
function idsOf(payload: Payload): string[] {
  const batch = payload instanceof MetricBatch ? payload : decodeMetricsRequest(payload.bytes);
  return [...batch.pointViews()].map((p) =>
    String(p.attributes.find((a) => a.key === 'id')?.value),
  );
}

/** Takes everything there is (flushing), completing each work unless told not to. */
async function takeAll(queue: PersistentQueue, complete = true): Promise<Work[]> {
  await queue.open();
  const end = queue.beginFlush();
  const out: Work[] = [];
  while (queue.length - out.reduce((n, w) => n + (complete ? 0 : (w.stored?.length ?? 0)), 0) > 0) {
    const work = await queue.take(1000, 1024 * 1024, 0, AbortSignal.timeout(2000));
    if (!work) break;
    out.push(work);
    if (complete) queue.complete(work);
  }
  end();
  return out;
}

/** A copy of the directory as a crash would leave it: whatever was written, no cleanup. */
async function crashCopy(from: string): Promise<string> {
  const to = await tempDir();
  await cp(from, to, { recursive: true });
  await rm(join(to, 'LOCK'), { force: true });
  return to;
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

describe('PersistentQueue', () => {
  it('hands out what was offered, in order, merged up to the limits', async () => {
    const queue = queueIn(await tempDir());
    const sent: string[] = [];
    for (let k = 0; k < 20; k++) {
      const { batch, ids } = counterBatch(30);
      sent.push(...ids);
      const offered = await queue.offer(batch);
      expect(offered.result).toBe('accepted');
    }
    expect(queue.length).toBe(20);
    expect(queue.points).toBe(600);
    const works = await takeAll(queue);
    expect(works.length).toBe(1); // 600 points fit one request of 1000
    expect(works.flatMap((w) => idsOf(w.batch))).toEqual(sent);
    expect(queue.length).toBe(0);
  });

  it('cuts a batch over the request limits into records before storing it', async () => {
    const queue = queueIn(await tempDir(), { maxRequestPoints: 100 });
    const { batch, ids } = counterBatch(450);
    await queue.offer(batch);
    expect(queue.length).toBe(5);
    const works = [];
    const end = queue.beginFlush();
    for (let k = 0; k < 5; k++) {
      const work = (await queue.take(100, 1024 * 1024, 0))!;
      expect(work.points).toBeLessThanOrEqual(100);
      works.push(work);
      queue.complete(work);
    }
    end();
    expect(works.flatMap((w) => idsOf(w.batch))).toEqual(ids);
  });

  it('replays after a crash what was not completed, and nothing that was', async () => {
    const dir = await tempDir();
    const queue = queueIn(dir);
    const first = counterBatch(10);
    const second = counterBatch(10);
    const third = counterBatch(10);
    await queue.offer(first.batch);
    const done = await takeAll(queue); // first: delivered
    expect(done.flatMap((w) => idsOf(w.batch))).toEqual(first.ids);
    await queue.offer(second.batch);
    await queue.offer(third.batch);
    await new Promise((resolve) => setTimeout(resolve, 250)); // the cursor is written lazily
    const crashed = await crashCopy(dir);

    const restarted = queueIn(crashed);
    await restarted.open();
    expect(restarted.storage.replayedRecords).toBe(2);
    expect(restarted.storage.replayedPoints).toBe(20);
    expect(restarted.storage.corruptRecords).toBe(0);
    const replayed = await takeAll(restarted);
    expect(replayed.flatMap((w) => idsOf(w.batch))).toEqual([...second.ids, ...third.ids]);
  });

  it('keeps records handed out but not completed (in flight at the crash)', async () => {
    const dir = await tempDir();
    const queue = queueIn(dir);
    const { batch, ids } = counterBatch(10);
    await queue.offer(batch);
    await takeAll(queue, false); // taken, never completed: the send did not finish
    await new Promise((resolve) => setTimeout(resolve, 250));
    const restarted = queueIn(await crashCopy(dir));
    expect((await takeAll(restarted)).flatMap((w) => idsOf(w.batch))).toEqual(ids);
  });

  it('replays in order across memory and disk when the in-memory copy is small', async () => {
    const dir = await tempDir();
    // 2 KiB of cache: a few records are kept in memory, the rest is read back from disk.
    const queue = queueIn(dir, { cacheBytes: 2048, maxSizeBytes: 16 * 1024 * 1024 });
    const sent: string[] = [];
    const received: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (let k = 0; k < 8; k++) {
        const { batch, ids } = counterBatch(7);
        sent.push(...ids);
        await queue.offer(batch);
      }
      // Take some (not all) between offers, so the reader crosses memory and disk.
      for (let k = 0; k < 3; k++) {
        const end = queue.beginFlush();
        const work = (await queue.take(20, 1024 * 1024, 0))!;
        end();
        received.push(...idsOf(work.batch));
        queue.complete(work);
      }
    }
    received.push(...(await takeAll(queue)).flatMap((w) => idsOf(w.batch)));
    expect(received).toEqual(sent);
  });

  it('survives segment rotation and deletes segments once delivered', async () => {
    const dir = await tempDir();
    const queue = queueIn(dir, { segmentBytes: 4096, cacheBytes: 0 });
    const sent: string[] = [];
    for (let k = 0; k < 40; k++) {
      const { batch, ids } = counterBatch(10);
      sent.push(...ids);
      await queue.offer(batch);
    }
    expect((await segmentFiles(dir)).length).toBeGreaterThan(3);
    const works = await takeAll(queue);
    expect(works.flatMap((w) => idsOf(w.batch))).toEqual(sent);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await segmentFiles(dir)).length).toBe(1); // the one being written
  });

  it('skips a torn tail record, counts it, and delivers the rest', async () => {
    const dir = await tempDir();
    const queue = queueIn(dir);
    const kept = counterBatch(10);
    await queue.offer(kept.batch);
    await queue.offer(counterBatch(10).batch);
    const crashed = await crashCopy(dir);
    const [segment] = await segmentFiles(crashed);
    const size = (await stat(join(crashed, segment))).size;
    await truncate(join(crashed, segment), size - 17); // the crash cut the last record

    const restarted = queueIn(crashed);
    await restarted.open();
    expect(restarted.storage.corruptRecords).toBe(1);
    expect((await takeAll(restarted)).flatMap((w) => idsOf(w.batch))).toEqual(kept.ids);
    // Appending after the cut works, and the next start finds nothing torn.
    const after = counterBatch(5);
    await restarted.offer(after.batch);
    await new Promise((resolve) => setTimeout(resolve, 250)); // the cursor is written lazily
    const again = queueIn(await crashCopy(crashed));
    await again.open();
    expect(again.storage.corruptRecords).toBe(0);
    expect((await takeAll(again)).flatMap((w) => idsOf(w.batch))).toEqual(after.ids);
  });

  it('skips a record whose payload fails its checksum, and only that one', async () => {
    const dir = await tempDir();
    const queue = queueIn(dir);
    const a = counterBatch(10);
    const b = counterBatch(10);
    const c = counterBatch(10);
    for (const x of [a, b, c]) await queue.offer(x.batch);
    const crashed = await crashCopy(dir);
    const [segment] = await segmentFiles(crashed);
    const path = join(crashed, segment);
    const bytes = await readFile(path);
    // Flip a byte in the middle of the second record's payload.
    const firstLength = bytes.readUInt32LE(SEGMENT_MAGIC.length);
    const second = SEGMENT_MAGIC.length + RECORD_HEADER_BYTES + firstLength;
    bytes[second + RECORD_HEADER_BYTES + 40] ^= 0xff;
    await writeFile(path, bytes);

    const restarted = queueIn(crashed);
    const ids = (await takeAll(restarted)).flatMap((w) => idsOf(w.batch));
    expect(ids).toEqual([...a.ids, ...c.ids]);
    expect(restarted.storage.corruptRecords).toBe(1);
  });

  it('renames a file that is not a segment aside and starts', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '0000000000000001.seg'), 'not a segment at all');
    const queue = queueIn(dir);
    await queue.open();
    expect(queue.storage.corruptRecords).toBe(1);
    expect((await readdir(dir)).some((n) => n.endsWith('.corrupt'))).toBe(true);
  });

  it('refuses, drops the newest or drops the oldest when max_size_bytes is reached', async () => {
    const big = () => counterBatch(2000);
    const record = (await (async () => {
      const probe = queueIn(await tempDir(), { maxRequestPoints: 5000 });
      await probe.offer(big().batch);
      return probe.bytes;
    })()) as number;
    const max = Math.max(1024 * 1024, record * 3 + 100);
    const count = Math.floor(max / record);

    const blocking = queueIn(await tempDir(), { maxSizeBytes: max, maxRequestPoints: 5000 });
    for (let k = 0; k < count; k++) await blocking.offer(big().batch);
    await expect(blocking.offer(big().batch)).rejects.toMatchObject({
      code: 'SLUICE_ERR_QUEUE_FULL',
    });

    const newest = queueIn(await tempDir(), {
      maxSizeBytes: max,
      maxRequestPoints: 5000,
      whenFull: 'drop_newest',
    });
    for (let k = 0; k < count; k++) await newest.offer(big().batch);
    expect((await newest.offer(big().batch)).result).toBe('dropped');

    const oldest = queueIn(await tempDir(), {
      maxSizeBytes: max,
      maxRequestPoints: 5000,
      whenFull: 'drop_oldest',
    });
    const batches = Array.from({ length: count + 1 }, big);
    for (let k = 0; k < count; k++) await oldest.offer(batches[k].batch);
    const offered = await oldest.offer(batches[count].batch);
    expect(offered.result).toBe('accepted');
    expect(offered.droppedOldest).toBe(2000);
    const left = (await takeAll(oldest)).flatMap((w) => idsOf(w.batch));
    expect(left).toEqual(batches.slice(1).flatMap((b) => b.ids));
  }, 20_000);

  it('counts offers being written against max_size_bytes', async () => {
    const probe = queueIn(await tempDir(), { maxRequestPoints: 5000 });
    await probe.offer(counterBatch(2000).batch);
    const record = probe.bytes;
    // Room for two records: of three offered at once, the third is refused, though the
    // first is still being written when the others are checked.
    const queue = queueIn(await tempDir(), {
      maxSizeBytes: Math.max(1024, 2 * record + record / 2),
      maxRequestPoints: 5000,
    });
    const results = await Promise.allSettled(
      [1, 2, 3].map(() => queue.offer(counterBatch(2000).batch)),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(queue.bytes).toBeLessThanOrEqual(2 * record + record / 2);
  });

  it('refuses a second queue on the same directory', async () => {
    const dir = await tempDir();
    await queueIn(dir).open();
    await expect(queueIn(dir).open()).rejects.toMatchObject({ code: 'SLUICE_ERR_STORAGE' });
  });

  it('takes over the lock of a process that died', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), '999999999\n'); // no such pid
    await expect(queueIn(dir).open()).resolves.toBeUndefined();
  });

  it('fails to open with a clear error where the directory cannot be', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'file'), 'x');
    await expect(queueIn(join(dir, 'file', 'queue')).open()).rejects.toThrow(
      /cannot create the queue directory .*file\/queue/,
    );
  });

  it('hands out encoded requests with their series keys, or decoded batches', async () => {
    const encodedQueue = queueIn(await tempDir());
    const { batch, ids } = counterBatch(5);
    await encodedQueue.offer(batch);
    const [work] = await takeAll(encodedQueue);
    expect(work.batch).not.toBeInstanceOf(MetricBatch);
    expect((work.batch as EncodedRequest).seriesKeys?.length).toBe(5);

    const decodingQueue = queueIn(await tempDir(), { decode: true });
    await decodingQueue.offer(counterBatch(5).batch);
    await decodingQueue.offer(counterBatch(5).batch);
    const [merged] = await takeAll(decodingQueue);
    expect(merged.batch).toBeInstanceOf(MetricBatch);
    expect(merged.points).toBe(10);
    expect(idsOf(work.batch)).toEqual(ids);
  });
});

describe('DeliveryEngine with a persistent queue', () => {
  it('keeps what it could not send at shutdown and sends it after the restart', async () => {
    const dir = await tempDir();
    const storage = {
      directory: dir,
      fsync: 'interval' as const,
      fsyncIntervalMs: 50,
      maxSizeBytes: 64 * 1024 * 1024,
      whenFull: 'block' as const,
    };
    let attempts = 0;
    const down = new DeliveryEngine({
      sender: {
        destination: 'down',
        async send() {
          attempts++;
          throw new RetryableError('connection refused');
        },
      },
      storage,
      retry: { initialIntervalMs: 10, maxIntervalMs: 20 },
      batch: { flushIntervalMs: 10 },
      meterProvider: false,
      logger,
    });
    await down.open();
    const sent: string[] = [];
    for (let k = 0; k < 5; k++) {
      const { batch, ids } = counterBatch(20);
      sent.push(...ids);
      await down.consume(batch);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(attempts).toBeGreaterThan(0);
    const started = Date.now();
    await down.shutdown({ deadlineMs: 10_000 });
    expect(Date.now() - started).toBeLessThan(2000); // no waiting out the deadline
    expect(down.stats.deadLettered).toEqual({});
    expect(down.stats.dropped).toEqual({});

    const received: string[] = [];
    const up = new DeliveryEngine({
      sender: {
        destination: 'up',
        async send(batch) {
          received.push(...idsOf(batch));
          return { rejectedPoints: 0 };
        },
      },
      storage,
      batch: { flushIntervalMs: 10 },
      meterProvider: false,
      logger,
    });
    await up.open();
    up.start();
    await waitFor(() => received.length >= sent.length);
    await up.shutdown({ deadlineMs: 1000 });
    expect(received).toEqual(sent);
    expect((up.queue as PersistentQueue).storage.replayedPoints).toBe(100);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
