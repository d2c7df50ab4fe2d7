/**
 * `bytes` ready for `postMessage` to another thread. Structured cloning copies a view's whole
 * buffer, so a view of part of a larger one (a pooled block, an encoder's reused buffer) is
 * first copied alone and that copy moved (`transfer`); a whole buffer is left to the clone's
 * copy, and the caller keeps it. (`Buffer#slice` would not do for the copy: it shares memory.)
 */
export function postableBytes(bytes: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) {
    return { bytes, transfer: [] };
  }
  const alone = Uint8Array.prototype.slice.call(bytes);
  return { bytes: alone, transfer: [alone.buffer as ArrayBuffer] };
}
