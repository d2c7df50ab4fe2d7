import { SluiceError } from '../model/errors.js';

/** A body over its listener's limit (declared, read, or after decompression): 413. */
export class BodyTooLargeError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_ERR_BODY_TOO_LARGE', message);
  }
}
