import { SluiceError } from '../../model/errors.js';

/**
 * The persistent queue cannot store: the disk is full, the directory is not writable, or
 * another process holds it. Offers that hit it are refused (the sender retries later), and
 * nothing half-written stays behind.
 */
export class StorageError extends SluiceError {
  constructor(message: string, cause?: unknown) {
    super('SLUICE_ERR_STORAGE', message, { cause });
  }
}
