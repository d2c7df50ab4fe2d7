// Part of the build: the dashboard's page, script and style, and uPlot (vendored from the
// installed package, so the page loads nothing from elsewhere), into dist/collector/dashboard.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/collector/dashboard');
const target = join(root, 'dist/collector/dashboard');
mkdirSync(target, { recursive: true });
for (const name of readdirSync(source)) copyFileSync(join(source, name), join(target, name));
const uplot = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
for (const name of ['uPlot.iife.min.js', 'uPlot.min.css'])
  copyFileSync(join(uplot, name), join(target, name));
