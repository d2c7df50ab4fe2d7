import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/cli.js';
import { exporters, extensions, processors, receivers } from '../../src/collector/registry.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
);
const bin = new URL('../../dist/cli/main.js', import.meta.url).pathname;

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('sluice CLI', () => {
  it('prints the package version', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, out: version, err: '' });
    expect((await run(['-v'])).out).toBe(version);
  });

  it('runs from its #! line with the Node.js flags npm start uses', () => {
    // What the kernel does with the bin's first line: the interpreter, the rest of the line
    // as one argument (`env -S` splits it), then the script.
    const shebang = readFileSync(bin, 'utf8').split('\n', 1)[0];
    const [, interpreter, rest] = /^#!(\S+) (.*)$/.exec(shebang)!;
    expect(execFileSync(interpreter, [rest, bin, '--version'], { encoding: 'utf8' }).trim()).toBe(
      version,
    );
    const flags = rest.replace(/^-S node ?/, '');
    expect(flags).toMatch(/^--initial-old-space-size=\d+$/);
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.scripts.start).toBe(`node ${flags} dist/cli/main.js`);
  });

  it('prints help on --help and help', async () => {
    for (const args of [['--help'], ['help']]) {
      const result = await run(args);
      expect(result.code).toBe(0);
      expect(result.out).toContain('Usage:');
      expect(result.out).toContain(`sluice ${version}`);
    }
  });

  it('lists every registered component with a description; --json adds its default config', async () => {
    const text = await run(['components']);
    expect(text.code).toBe(0);
    const sections = { receivers, processors, exporters, extensions };
    for (const [section, registry] of Object.entries(sections)) {
      expect(text.out).toContain(`${section}:\n`);
      for (const factory of Object.values(registry))
        expect(text.out).toMatch(
          new RegExp(`\\n  ${factory.type} +${escapeRegExp(factory.description)}\\n`),
        );
    }
    const json = await run(['components', '--json']);
    const listed = JSON.parse(json.out);
    expect(Object.keys(listed)).toEqual(['receivers', 'processors', 'exporters', 'extensions']);
    for (const [section, registry] of Object.entries(sections)) {
      expect(listed[section].map((c: { type: string }) => c.type)).toEqual(
        Object.keys(registry).sort(),
      );
    }
    expect(listed.exporters.find((c: { type: string }) => c.type === 'otlphttp')).toEqual({
      type: 'otlphttp',
      description: exporters.otlphttp.description,
      default_config: { endpoint: 'http://127.0.0.1:4318' },
    });
  });

  it('refuses unknown commands and options with exit code 2 and a hint', async () => {
    const command = await run(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.err).toContain('unknown command "frobnicate"');
    const option = await run(['--frob']);
    expect(option.code).toBe(2);
    expect(option.err).toMatch(/Unknown option '--frob'/);
    expect(option.err).toContain('sluice --help');
  });

  it('works as the installed bin (built dist)', () => {
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' }).trim()).toBe(
      version,
    );
    const bad = spawnSync(process.execPath, [bin, 'nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env -S node ')).toBe(true);
  });
});
