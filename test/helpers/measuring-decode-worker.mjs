// A decode worker that answers every job with the size of the buffer its body came in (as
// an error message), for what DecodePool copies to its threads.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (job) => {
  parentPort.postMessage({ id: job.id, error: { message: String(job.body.buffer.byteLength) } });
});
