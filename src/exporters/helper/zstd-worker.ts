// The worker thread of `ZstdThread`: request bodies in, zstd frames out (moved, not copied).
import { compress } from 'zstd-napi';
import { ownerPort } from '../../model/owner-port.js';
import { postableBytes } from '../../model/postable-bytes.js';
import type { ZstdJob, ZstdReply } from './zstd-thread.js';

const port = ownerPort('zstd-worker.js', 'ZstdThread');

port.on('message', (job: ZstdJob) => {
  let frame: Uint8Array;
  try {
    frame = compress(job.body, { compressionLevel: job.level });
  } catch (error) {
    const reply: ZstdReply = { id: job.id, error: (error as Error).message };
    port.postMessage(reply);
    return;
  }
  // zstd-napi returns a view of a larger buffer at times (its output bound, or Node's pool).
  const out = postableBytes(frame);
  const reply: ZstdReply = { id: job.id, frame: out.bytes };
  port.postMessage(reply, out.transfer);
});
