/**
 * `bytes[start, end)` in a buffer of its own. `Buffer#slice` — which `.slice()` is whenever the
 * bytes are a `Buffer`, as request bodies are — shares memory with the buffer it is made from,
 * unlike `Uint8Array#slice`. A body lies in one of the reused request buffers
 * (`requestBytes`), so a "slice" of it kept past the request reads whatever request the
 * buffer holds next.
 */
export function copyOf(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes, start, end);
}
