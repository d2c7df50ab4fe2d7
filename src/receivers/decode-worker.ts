// A decode thread of `DecodePool`: request bodies in, batch states out (columns moved, not
// copied). Errors go back as plain data: the pool rebuilds a `DecodeError` from them.
import { DecodeError } from '../model/errors.js';
import { type MetricBatchState, transferList } from '../model/metric-batch.js';
import { ownerPort } from '../model/owner-port.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';
import { decodeRequest } from './request-decoder.js';

const port = ownerPort('decode-worker.js', 'DecodePool');

port.on('message', (job: DecodeJob) => {
  let state: MetricBatchState;
  try {
    state = decodeRequest(job.format, job.body).exportState();
  } catch (err) {
    const error = err as Error;
    const reply: DecodeReply = {
      id: job.id,
      error:
        err instanceof DecodeError
          ? { message: error.message, where: err.where, expected: err.expected }
          : { message: error.message, code: (err as { code?: string }).code },
    };
    port.postMessage(reply);
    return;
  }
  // Outside the try: a batch that cannot be posted is not a malformed request. The error
  // ends this worker, and the pool decodes the job on the main thread.
  const reply: DecodeReply = { id: job.id, state };
  port.postMessage(reply, transferList(state));
});
