import { stringify } from 'yaml';
import type { z } from 'zod';
import type { ComponentFactory } from '../../model/component-factory.js';
import { exporters, extensions, processors, receivers } from '../registry.js';
import { zodDefinition } from './zod-definition.js';

/** One row of a component's table: a key path, its type and its default. */
interface KeyRow {
  key: string;
  type: string;
  /** The default, `—`, or when the key must be set, **required**. */
  default: string;
}

/**
 * The configuration reference (`docs/configuration.md`): every component of the registry,
 * every key its schema takes (nested keys as dotted paths), the key's type and default, and
 * the config `sluice components --json` starts from as an example. Made from the schemas
 * themselves, so it cannot drift from what the loader accepts: a test compares the file with
 * this, and `npm run docs:config` writes it.
 */
export function configReference(): string {
  const out: string[] = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schemas by `npm run docs:config`; a test keeps it in sync. Do not edit by hand. -->',
    '',
    'Every component sluice can run, with every key its config takes: the type, the default',
    '(— when there is none; **required** when the key must be set) and an example, the config',
    '`sluice components --json` starts from. Nested keys are written as dotted paths:',
    '`sending_queue.num_consumers` is `num_consumers` inside `sending_queue`. Durations take',
    'Go-style text (`200ms`, `5s`, `1m30s`) or a number of milliseconds. Every value can come',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text shows config syntax
    'from the environment: `${env:NAME}` or `${env:NAME:-default}`. `sluice validate --config',
    'FILE` checks a file against all of this.',
    '',
  ];
  const sections: [string, string, Record<string, ComponentFactory<unknown>>][] = [
    ['receivers', 'receiver', receivers],
    ['processors', 'processor', processors],
    ['exporters', 'exporter', exporters],
    ['extensions', 'extension', extensions],
  ];
  for (const [section] of sections) {
    out.push(`- [${section}](#${section})`);
  }
  out.push('- [service](#service)', '');
  for (const [section, , registry] of sections) {
    out.push(`## ${section}`, '');
    for (const factory of Object.values(registry).sort((a, b) => a.type.localeCompare(b.type))) {
      out.push(...componentSection(section, factory));
    }
  }
  out.push(...serviceSection());
  return `${out.join('\n').trimEnd()}\n`;
}

function componentSection(section: string, factory: ComponentFactory<unknown>): string[] {
  const rows = keyRows(factory.configSchema, '');
  const example = stringify({ [section]: { [factory.type]: factory.createDefaultConfig() } });
  return [
    `### \`${factory.type}\` ${kindOf(section)}`,
    '',
    `${factory.description}.`,
    '',
    ...table(rows),
    '',
    'Example:',
    '',
    '```yaml',
    example.trimEnd(),
    '```',
    '',
  ];
}

function serviceSection(): string[] {
  return [
    '## service',
    '',
    '| key | type | default |',
    '| --- | --- | --- |',
    '| `extensions` | list of extension ids | `[]` |',
    '| `pipelines.<name>.receivers` | list of receiver ids | **required** (at least one) |',
    '| `pipelines.<name>.processors` | list of processor ids, in order | `[]` |',
    '| `pipelines.<name>.exporters` | list of exporter ids | **required** (at least one) |',
    '| `decode_threads` | `auto` or an integer from 0 to 64 | `auto` |',
    '| `telemetry.metrics.address` | host:port of the admin server (dashboard, `/metrics`, `/healthz`, `/readyz`) | `127.0.0.1:8888` |',
    '| `telemetry.metrics.tls`, `telemetry.metrics.auth` | as on a receiver | — |',
    '| `telemetry.logs.level` | `debug`, `info`, `warn` or `error` | `info` |',
    '| `telemetry.cardinality.enabled` | boolean: the dashboard’s cardinality explorer | `true` |',
    '| `telemetry.cardinality.cpu_budget` | share of the main thread it may spend reading requests carried undecoded, 0 to 0.5 | `0.01` |',
    '| `telemetry.cardinality.max_series` | series remembered at most (sampled by hash beyond) | `20000` |',
    '| `telemetry.cardinality.active_window` | duration: a series not seen for this long is not active | `5m` |',
    '',
    'A pipeline is named `metrics` or `metrics/<anything>`. A component id is its type or',
    '`type/name` (`otlphttp/backup`), so one type can appear more than once.',
    '',
  ];
}

function table(rows: KeyRow[]): string[] {
  if (rows.length === 0) return ['No keys.'];
  return [
    '| key | type | default |',
    '| --- | --- | --- |',
    ...rows.map(
      (row) => `| \`${row.key}\` | ${escapeCell(row.type)} | ${escapeCell(row.default)} |`,
    ),
  ];
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The keys of an object schema, nested objects flattened into dotted paths. */
function keyRows(schema: z.ZodType, prefix: string, within?: string): KeyRow[] {
  const object = unwrap(schema);
  const shape = zodDefinition(object).shape;
  if (!shape) return [];
  const rows: KeyRow[] = [];
  for (const [key, value] of Object.entries(shape)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const { optional, defaultValue } = wrapping(value);
    const inner = unwrap(value);
    const d = zodDefinition(inner);
    if (d.type === 'object' && d.shape && Object.keys(d.shape).length > 0 && !isDuration(inner)) {
      // Keys an optional block needs are needed only when the block is there.
      rows.push(...keyRows(inner, path, optional ? path : within));
      continue;
    }
    const required = !optional && defaultValue === undefined;
    rows.push({
      key: path,
      type: typeName(inner),
      default:
        defaultValue !== undefined
          ? `\`${formatDefault(defaultValue, inner)}\``
          : required && within
            ? `**required** with \`${within}\``
            : required
              ? '**required**'
              : '—',
    });
  }
  return rows;
}

/** Whether a key may be left out, and the default it then takes. */
function wrapping(schema: z.ZodType): { optional: boolean; defaultValue: unknown } {
  let current = schema;
  let optional = false;
  let defaultValue: unknown;
  for (;;) {
    const d = zodDefinition(current);
    if (d.type === 'optional' || d.type === 'nullable') optional = true;
    else if (d.type === 'default' || d.type === 'prefault') {
      optional = true;
      if (defaultValue === undefined) defaultValue = d.defaultValue;
    } else if (d.type === 'pipe' && d.in && !isDuration(current)) {
      current = d.in;
      continue;
    } else break;
    current = d.innerType!;
  }
  return { optional, defaultValue };
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const d = zodDefinition(current);
    if (
      d.innerType &&
      ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch'].includes(d.type)
    )
      current = d.innerType;
    else if (d.type === 'pipe' && d.in && !isDuration(current)) current = d.in;
    else return current;
  }
}

/** The `duration` schema: a number or a string, made a number of milliseconds. */
function isDuration(schema: z.ZodType): boolean {
  const d = zodDefinition(schema);
  if (d.type !== 'pipe' || !d.in) return false;
  const input = zodDefinition(d.in);
  return (
    input.type === 'union' &&
    (input.options ?? [])
      .map((o) => zodDefinition(o).type)
      .sort()
      .join() === 'number,string'
  );
}

function typeName(schema: z.ZodType): string {
  const inner = unwrap(schema);
  const d = zodDefinition(inner);
  if (isDuration(inner)) return 'duration';
  switch (d.type) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number': {
      const formats = [d.format, ...(d.checks ?? []).map((c) => c._zod.def.format)];
      const integer = formats.some((f) => f === 'safeint' || f === 'int32' || f === 'uint32');
      const bounds = (d.checks ?? [])
        .map((c) => c._zod.def)
        .filter((c) => c.check === 'greater_than' || c.check === 'less_than')
        .map((c) =>
          c.check === 'greater_than'
            ? `${c.inclusive ? '≥' : '>'} ${c.value}`
            : `${c.inclusive ? '≤' : '<'} ${c.value}`,
        );
      return [integer ? 'integer' : 'number', ...bounds].join(' ');
    }
    case 'enum':
      return Object.values(d.entries ?? {})
        .map((v) => `\`${v}\``)
        .join(', ');
    case 'literal':
      return (d.values ?? []).map((v) => `\`${String(v)}\``).join(', ');
    case 'array':
      return `list of ${typeName(d.element!)}`;
    case 'record':
      return `map of ${typeName(d.valueType!)}`;
    case 'union':
      return (d.options ?? []).map(typeName).join(' or ');
    case 'object':
      return 'object';
    case 'pipe':
      return typeName(d.in!);
    default:
      return d.type;
  }
}

function formatDefault(value: unknown, schema: z.ZodType): string {
  if (isDuration(schema) && typeof value === 'number') return goDuration(value);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Milliseconds as Go writes a duration: `5s`, `1m30s`, `200ms`. */
function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}

/** `receivers` → `receiver`. */
function kindOf(section: string): string {
  return section.slice(0, -1);
}
