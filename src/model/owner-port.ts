import { type MessagePort, parentPort } from 'node:worker_threads';
import { SluiceError } from './errors.js';

/**
 * The port of a worker module (`file`) to the thread that started it (`owner`); throws when
 * the module is run some other way, which would otherwise wait for jobs forever.
 */
export function ownerPort(file: string, owner: string): MessagePort {
  if (!parentPort)
    throw new SluiceError('SLUICE_ERR_NOT_A_WORKER', `${file} runs as a worker thread of ${owner}`);
  return parentPort;
}
