import { copyOf } from './copy-bytes.js';

/**
 * `bytes` ready for `postMessage` to another thread. Structured cloning copies a view's whole
 * buffer, so a view of part of a larger one (a pooled block, an encoder's reused buffer) is
 * first copied alone and that copy moved (`transfer`); a whole buffer is left to the clone's
 * copy, and the caller keeps it.
 */
export function postableBytes(bytes: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return { bytes, transfer: [] };
  }
  const alone = copyOf(bytes);
  return { bytes: alone, transfer: [alone.buffer as ArrayBuffer] };
}
