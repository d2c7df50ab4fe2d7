import type { FileHandle } from 'node:fs/promises';
import { constants, open, readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';

const CURSOR_MAGIC = 0x31435153; // "SQC1"

/**
 * Where delivery stands: every record up to `settled` was delivered or dead-lettered. Kept
 * in a 16-byte file rewritten in place (a sector never tears in half on the disks we run
 * on, and a torn one fails its checksum). Losing it only replays records that were already
 * sent — duplicates, which at-least-once allows — so it is written lazily, never per send.
 */
export class CursorFile {
  readonly #handle: FileHandle;
  #written = -1;

  private constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  /** Opens (or creates) the cursor; `settled` is 0 when it is new, torn or unreadable. */
  static async open(
    path: string,
  ): Promise<{ cursor: CursorFile; settled: number; valid: boolean }> {
    const found = await CursorFile.read(path);
    const cursor = new CursorFile(await open(path, constants.O_RDWR | constants.O_CREAT));
    if (!found.exists) {
      // Take its 16 bytes now: later writes are in place and need no new space (a full disk).
      await cursor.write(0, true);
      return { cursor, settled: 0, valid: true };
    }
    cursor.#written = found.valid ? found.settled : -1;
    return { cursor, settled: found.settled, valid: found.valid };
  }

  /** Reads a cursor without changing anything (also what `sluice validate` uses). */
  static async read(path: string): Promise<{ exists: boolean; settled: number; valid: boolean }> {
    let buffer: Buffer;
    try {
      buffer = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { exists: false, settled: 0, valid: true };
      }
      throw err;
    }
    if (buffer.length === 0) return { exists: false, settled: 0, valid: true };
    const settled = buffer.length === 16 ? buffer.readDoubleLE(0) : 0;
    const valid =
      buffer.length === 16 &&
      buffer.readUInt32LE(12) === CURSOR_MAGIC &&
      buffer.readUInt32LE(8) === crc32(buffer.subarray(0, 8)) &&
      Number.isSafeInteger(settled) &&
      settled >= 0;
    return { exists: true, settled: valid ? settled : 0, valid };
  }

  async write(settled: number, sync: boolean): Promise<void> {
    if (settled === this.#written) return;
    const buffer = Buffer.alloc(16);
    buffer.writeDoubleLE(settled, 0);
    buffer.writeUInt32LE(crc32(buffer.subarray(0, 8)), 8);
    buffer.writeUInt32LE(CURSOR_MAGIC, 12);
    await this.#handle.write(buffer, 0, 16, 0);
    if (sync) await this.#handle.datasync();
    this.#written = settled;
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}
