import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliLogger } from '../../src/cli/logger.js';

/** A stream that keeps what is written, optionally claiming to be a terminal. */
function capture(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => chunks.join('');
  return stream;
}

describe('collector logs', () => {
  it('are JSON lines when the output is not a terminal', () => {
    const out = capture(false);
    cliLogger(out, {}).warn({ exporter: 'otlphttp', points: 12 }, 'queue full');
    const line = JSON.parse(out.text());
    expect(line).toMatchObject({
      level: 40,
      name: 'sluice',
      exporter: 'otlphttp',
      msg: 'queue full',
    });
  });

  it('are one readable line per event on a terminal, and JSON again when asked', () => {
    const tty = capture(true);
    cliLogger(tty, {}).warn({ exporter: 'otlphttp' }, 'queue full');
    // Coloured for the terminal; compared without the colour codes.
    const text = stripVTControlCharacters(tty.text());
    expect(() => JSON.parse(text)).toThrow();
    expect(text).toMatch(/WARN.*queue full/);
    expect(text).toContain('exporter: "otlphttp"');
    const forced = capture(true);
    cliLogger(forced, { SLUICE_LOG_FORMAT: 'json', SLUICE_LOG_LEVEL: 'debug' }).debug('hello');
    expect(JSON.parse(forced.text())).toMatchObject({ level: 20, msg: 'hello' });
  });
});
