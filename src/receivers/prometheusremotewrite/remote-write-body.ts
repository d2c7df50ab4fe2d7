import { uncompressSync } from 'snappy';
import { DecodeError, InvalidArgumentError } from '../../model/errors.js';
import { BodyTooLargeError } from '../body-too-large.js';

/**
 * A remote-write body as sent (`content-encoding` snappy, the protocol's, or identity) →
 * the `WriteRequest` bytes. A snappy block declares its uncompressed length up front, so a
 * body that would inflate past `limit` is refused before anything is allocated; a corrupt
 * block is a `DecodeError` like any other bad byte.
 */
export function uncompressRemoteWrite(body: Buffer, encoding: string, limit: number): Buffer {
  if (encoding === 'identity') return body;
  if (encoding !== 'snappy') {
    throw new InvalidArgumentError(
      'content-encoding',
      encoding,
      'snappy (the remote write protocol) or identity',
    );
  }
  const declared = snappyLength(body);
  if (declared > limit) {
    throw new BodyTooLargeError(
      `uncompressed size ${declared} exceeds max_request_body_size ${limit} bytes`,
    );
  }
  try {
    return uncompressSync(body) as Buffer;
  } catch (err) {
    throw new DecodeError(0, 'a snappy block', (err as Error).message);
  }
}

/** The uncompressed length a snappy block declares in its leading varint. */
function snappyLength(block: Buffer): number {
  let value = 0;
  let shift = 0;
  for (let k = 0; k < 5 && k < block.length; k++) {
    value += (block[k] & 0x7f) * 2 ** shift;
    if (block[k] < 0x80) return value;
    shift += 7;
  }
  throw new DecodeError(
    0,
    'a snappy block',
    'its length header is not a varint of at most 5 bytes',
  );
}
