import { Writable } from 'node:stream';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyLogLevel, cliLogger } from '../../src/cli/logger.js';
import { parseConfig } from '../../src/collector/config/load-config.js';
import { RecentErrors } from '../../src/collector/status/recent-errors.js';

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

  it('hand warnings and errors to the dashboard’s list too, newest first, in either format', () => {
    for (const isTTY of [false, true]) {
      const out = capture(isTTY);
      const recent = new RecentErrors(2);
      const logger = cliLogger(out, {}, recent);
      logger.info('started');
      logger.child({ exporter: 'otlphttp' }).warn({ points: 3 }, 'send failed, will retry');
      logger.error({ url: 'http://u:hunter2@h/x' }, 'gave up');
      logger.child({ component: 'admin' }).error('third');
      // Kept: the newest two, at warn and above; the log itself got all four.
      expect(recent.list().map((e) => [e.level, e.component, e.message])).toEqual([
        ['error', 'admin', 'third'],
        ['error', undefined, 'gave up'],
      ]);
      expect(JSON.stringify(recent.list())).not.toContain('hunter2');
      expect(stripVTControlCharacters(out.text())).toContain('started');
    }
  });

  it('take their level from service.telemetry.logs.level unless SLUICE_LOG_LEVEL is set', () => {
    const config = parseConfig(`
exporters: { debug: {} }
receivers: { otlp: { protocols: { http: {} } } }
service:
  telemetry: { logs: { level: debug } }
  pipelines: { metrics: { receivers: [otlp], exporters: [debug] } }
`);
    expect(config.logLevel).toBe('debug');
    for (const tap of [undefined, new RecentErrors()]) {
      const out = capture(false);
      const logger = cliLogger(out, {}, tap);
      logger.debug('hidden');
      applyLogLevel(logger, config.logLevel, {});
      logger.debug('shown');
      expect(out.text()).not.toContain('hidden');
      expect(out.text()).toContain('shown');
      const pinned = capture(false);
      const fixed = cliLogger(pinned, { SLUICE_LOG_LEVEL: 'warn' }, tap);
      applyLogLevel(fixed, config.logLevel, { SLUICE_LOG_LEVEL: 'warn' });
      fixed.info('not at warn');
      expect(pinned.text()).toBe('');
    }
  });
});
