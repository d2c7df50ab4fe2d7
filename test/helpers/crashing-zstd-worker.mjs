// A zstd worker that dies on its first job, for ZstdThread's crash handling.
import { parentPort } from 'node:worker_threads';

parentPort.once('message', () => process.exit(3));
