import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../../model/errors.js';

/** The dashboard's files: the page, its script and style, and uPlot (vendored at build). */
const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'dashboard.css': 'text/css; charset=utf-8',
  'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
  'uPlot.min.css': 'text/css; charset=utf-8',
};

const cache = new Map<string, Buffer>();

/**
 * A dashboard file by name, or `undefined` for any other name (the names are a fixed list:
 * a path never reaches the file system). Read once, kept. The build copies the files and
 * uPlot into `dist/collector/dashboard/`; run from the sources, uPlot comes from the
 * installed package.
 */
export function dashboardAsset(name: string): { body: Buffer; type: string } | undefined {
  const type = TYPES[name];
  if (!type) return undefined;
  let body = cache.get(name);
  if (!body) {
    body = readAsset(name);
    cache.set(name, body);
  }
  return { body, type };
}

function readAsset(name: string): Buffer {
  const beside = fileURLToPath(new URL(`../dashboard/${name}`, import.meta.url));
  try {
    return readFileSync(beside);
  } catch (err) {
    if (!name.startsWith('uPlot')) throw err;
  }
  try {
    return readFileSync(createRequire(import.meta.url).resolve(`uplot/dist/${name}`));
  } catch {
    throw new SluiceError(
      'SLUICE_ERR_DASHBOARD_FILE',
      `dashboard file ${name} is missing (expected at ${beside}: run the build)`,
    );
  }
}
