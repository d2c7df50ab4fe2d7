// The newest `@opentelemetry/otlp-transformer`, from bench/peers/otlp-transformer-latest
// (installed there from the npm registry on first use; it cannot sit beside the project's
// pinned 0.223 because it wants @opentelemetry/api 1.10 as a peer). Undefined when it cannot
// be installed (no registry): the benchmarks then leave its rows out and say so.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const dir = new URL('../peers/otlp-transformer-latest/', import.meta.url).pathname;

export function latestTransformer() {
  const installed = `${dir}node_modules/@opentelemetry/otlp-transformer/package.json`;
  if (!existsSync(installed)) {
    try {
      execFileSync(
        'npm',
        [
          'install',
          '--prefix',
          dir,
          '--no-package-lock',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, npm_config_engine_strict: 'false' },
        },
      );
    } catch (err) {
      console.log(
        JSON.stringify({ info: 'newest otlp-transformer not installed', error: err.message }),
      );
      return undefined;
    }
  }
  const require = createRequire(`${dir}package.json`);
  return {
    version: JSON.parse(readFileSync(installed, 'utf8')).version,
    ...require('@opentelemetry/otlp-transformer'),
  };
}
