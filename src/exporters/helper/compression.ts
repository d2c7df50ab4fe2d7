import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { z } from 'zod';
import { InvalidArgumentError } from '../../model/errors.js';
import { zstdThread } from './zstd-thread.js';

const gzip = promisify(gzipCallback);

/** How an exporter compresses request bodies. */
export type BodyCompression = 'none' | 'gzip' | 'zstd';

/**
 * The levels each compression takes, and the one used unless `compression_params.level`
 * says otherwise.
 *
 * gzip defaults to zlib's fastest level, not its default (6). Measured on 8,000 points of
 * SDK output (`bench/codec/data.js`), level 1 compresses 15.8× at 0.33-0.35 µs of CPU a
 * point, level 3 18.7× at 0.37-0.46, and level 6 23.5× at 0.94-1.00. At level 6, gzip alone
 * costs more than the rest of an OTLP relay. zstd keeps its library's default (3).
 */
export const COMPRESSION_LEVELS = {
  gzip: { min: 1, max: 9, default: 1 },
  zstd: { min: 1, max: 22, default: 3 },
} as const;

/** `compression_params`, the OpenTelemetry Collector's key: the level of `compression`. */
export const compressionParamsSchema = z.strictObject({ level: z.number().int() }).optional();

/**
 * What `compression` takes as a level, when `level` is not one of them (`undefined`: it is,
 * or there is none): the allowed range, or that `none` takes no level.
 */
function levelsAllowed(
  compression: BodyCompression,
  level: number | undefined,
): string | undefined {
  if (level === undefined) return undefined;
  if (compression === 'none') return 'no level: compression is none (set gzip or zstd)';
  const { min, max } = COMPRESSION_LEVELS[compression];
  return Number.isInteger(level) && level >= min && level <= max
    ? undefined
    : `a ${compression} level from ${min} (fastest) to ${max} (smallest)`;
}

/** Refuses a `compression_params.level` that `compression` does not take (a schema's `superRefine`). */
export function checkCompressionParams(
  config: { compression: BodyCompression; compression_params?: { level: number } },
  ctx: z.RefinementCtx,
): void {
  const level = config.compression_params?.level;
  const allowed = levelsAllowed(config.compression, level);
  if (allowed) {
    ctx.addIssue({
      code: 'custom',
      path: ['compression_params', 'level'],
      message: `expected ${allowed}, got ${level}`,
    });
  }
}

/** `level` when `compression` takes it (undefined: the default); else an `InvalidArgumentError`. */
export function checkedLevel(
  compression: BodyCompression,
  level: number | undefined,
): number | undefined {
  const allowed = levelsAllowed(compression, level);
  if (allowed) throw new InvalidArgumentError('compressionLevel', level, allowed);
  return level;
}

/**
 * The piece size zlib writes a gzip body of `length` bytes into: about what OTLP at the
 * default level compresses to (a tenth or more of it), within 64 KiB and 1 MiB, so most bodies
 * take one piece — one trip to the thread pool — not zlib's 16 KiB pieces, each a trip.
 */
function gzipOutputPieceSize(length: number): number {
  return Math.min(1024 * 1024, Math.max(64 * 1024, Math.ceil(length / 8)));
}

/**
 * Compresses a request body off the calling thread: gzip on libuv's thread pool, zstd on
 * the process's zstd worker (`ZstdThread`). `level` undefined: the compression's default.
 */
export async function compressBody(
  body: Uint8Array,
  compression: BodyCompression,
  level?: number,
): Promise<Uint8Array> {
  if (compression === 'gzip') {
    return gzip(body, {
      level: level ?? COMPRESSION_LEVELS.gzip.default,
      chunkSize: gzipOutputPieceSize(body.length),
    });
  }
  if (compression === 'zstd') {
    return zstdThread.compress(body, level ?? COMPRESSION_LEVELS.zstd.default);
  }
  return body;
}
