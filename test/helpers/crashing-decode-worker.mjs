// A decode worker that dies on its first job, for DecodePool's crash handling.
import { parentPort } from 'node:worker_threads';

parentPort.once('message', () => process.exit(3));
