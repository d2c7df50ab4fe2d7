import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { CreateExporter } from '../../exporters/helper/exporter.js';
import type { CreateExtension } from '../../extensions/extension.js';
import type { ComponentFactory } from '../../model/component-factory.js';
import { duration } from '../../model/duration.js';
import { SluiceError } from '../../model/errors.js';
import { redactSecrets, redactSourceLine, secretTexts } from '../../model/redact.js';
import { type HttpListenerConfig, httpListenerKeys } from '../../net/listener-config.js';
import type { CreateProcessor } from '../../processors/processor.js';
import type { CreateReceiver } from '../../receivers/receiver.js';
import { exporters, extensions, processors, receivers } from '../registry.js';
import {
  caret,
  type KeyPath,
  nearestKey,
  type SourceSpot,
  SourceSpots,
  schemaKeysAt,
} from './source-spots.js';
import { MissingEnvironmentError, substituteEnvironment } from './substitute-env.js';

/** A config that cannot run: every problem, each naming its key path. */
export class ConfigError extends SluiceError {
  readonly problems: string[];
  /** Where each problem is in the file, when it could be found (same order as `problems`). */
  readonly spots: readonly (SourceSpot | undefined)[];
  constructor(source: string, problems: string[], spots: readonly (SourceSpot | undefined)[] = []) {
    super(
      'SLUICE_ERR_CONFIG',
      `invalid config ${source}:\n${problems
        .map((p, k) => {
          const spot = spots[k];
          return spot
            ? `  - ${p}\n    at line ${spot.line}, column ${spot.column}:\n${caret(spot)}`
            : `  - ${p}`;
        })
        .join('\n')}`,
    );
    this.problems = problems;
    this.spots = spots;
  }
}

/** Problems found so far, each with where in the file it is when that is known. */
class Problems {
  readonly list: string[] = [];
  readonly spots: (SourceSpot | undefined)[] = [];
  readonly #where: SourceSpots;

  constructor(where: SourceSpots) {
    this.#where = where;
  }

  /** A problem at the node `path` (or its key `key`) of the file. */
  add(text: string, path?: KeyPath, key?: string): void {
    this.list.push(text);
    this.spots.push(path && this.#where.at(path, key));
  }
}

/** One configured component: its parsed config, and `create` bound to it. */
export interface ComponentConfig<Create> {
  /** `type` or `type/name`, as written. */
  id: string;
  type: string;
  config: unknown;
  create: Create;
}

export interface PipelineConfig {
  name: string;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

export interface CollectorConfig {
  receivers: Map<string, ComponentConfig<CreateReceiver>>;
  processors: Map<string, ComponentConfig<CreateProcessor>>;
  exporters: Map<string, ComponentConfig<CreateExporter>>;
  /** The extensions `service.extensions` enables, in its order. */
  extensions: Map<string, ComponentConfig<CreateExtension>>;
  pipelines: PipelineConfig[];
  /** `service.telemetry.metrics.address`: the admin server. */
  adminAddress: string;
  /** `service.telemetry.metrics`' TLS, auth and timeouts: the admin server's listener. */
  adminListener: HttpListenerConfig;
  /** `service.decode_threads`: worker threads that decode request bodies. */
  decodeThreads: number | 'auto';
  /** `service.telemetry.logs.level` (`SLUICE_LOG_LEVEL` wins over it). */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** `service.telemetry.cardinality`: the cardinality explorer's bounds, or off. */
  cardinality: { enabled: boolean; cpu_budget: number; max_series: number; active_window: number };
}

const idList = z.array(z.string().min(1)).default([]);
const topLevel = z.strictObject({
  receivers: z.record(z.string(), z.unknown()).default({}),
  processors: z.record(z.string(), z.unknown()).default({}),
  exporters: z.record(z.string(), z.unknown()).default({}),
  extensions: z.record(z.string(), z.unknown()).default({}),
  connectors: z.record(z.string(), z.unknown()).optional(),
  service: z.strictObject({
    extensions: idList,
    // sluice's own: receivers decode request bodies on this many worker threads (0: on the
    // main thread); `auto` is one per core beyond two, at most 4.
    decode_threads: z
      .union([z.literal('auto'), z.number().int().min(0).max(64)], {
        error: 'expected auto or a number of threads from 0 to 64',
      })
      .default('auto'),
    pipelines: z.record(
      z.string(),
      z.strictObject({ receivers: idList, processors: idList, exporters: idList }),
    ),
    telemetry: z
      .strictObject({
        metrics: z
          .strictObject({
            address: z.string().default('127.0.0.1:8888'),
            level: z.string().optional(),
            ...httpListenerKeys,
          })
          .prefault({}),
        logs: z
          .strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
          .prefault({}),
        // sluice's own: the dashboard's cardinality explorer.
        cardinality: z
          .strictObject({
            enabled: z.boolean().default(true),
            /** Share of the main thread's time it may spend reading requests carried as bytes. */
            cpu_budget: z.number().min(0).max(0.5).default(0.01),
            /** Series remembered at most (sampled beyond): its memory bound. */
            max_series: z.number().int().min(100).default(20_000),
            /** A series not seen for this long is not active any more. */
            active_window: duration.default(300_000),
          })
          .prefault({}),
      })
      .prefault({}),
  }),
});

export async function loadConfigFile(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CollectorConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseConfig(text, path, env);
}

/** Parses and validates a YAML config; throws `ConfigError` listing every problem. */
export function parseConfig(
  text: string,
  source = '(config)',
  env: NodeJS.ProcessEnv = process.env,
): CollectorConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { prettyErrors: true, lineCounter });
  // The file's lines are quoted under problems: never with a secret in them.
  let secrets: string[] = [];
  try {
    secrets = secretTexts(document.toJS());
  } catch {
    // A document too broken to read: the keys on the line still give secrets away.
  }
  const where = new SourceSpots(document, lineCounter, text, (line) =>
    redactSourceLine(line, secrets),
  );
  if (document.errors.length > 0) {
    throw new ConfigError(
      source,
      // The location is shown under the message, with the line.
      document.errors.map(
        (e) => `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
      ),
      document.errors.map((e) => where.spotOf(e.pos[0])),
    );
  }
  let raw: unknown;
  try {
    raw = substituteEnvironment(document.toJS() ?? {}, env);
  } catch (err) {
    if (err instanceof MissingEnvironmentError) throw new ConfigError(source, [err.message]);
    throw err;
  }
  const problems = new Problems(where);
  const top = topLevel.safeParse(raw);
  if (!top.success) {
    for (const issue of top.error.issues) addIssue(problems, issue, [], raw, topLevel);
    throw new ConfigError(source, problems.list, problems.spots);
  }
  const parsed = top.data;
  const section = <Create>(
    kind: string,
    entries: Record<string, unknown>,
    registry: Record<string, ComponentFactory<Create>>,
  ) => {
    const out = new Map<string, ComponentConfig<Create>>();
    for (const [id, value] of Object.entries(entries)) {
      const type = id.split('/')[0];
      const factory = registry[type];
      if (!factory) {
        const known = Object.keys(registry);
        const near = nearestKey(type, known);
        problems.add(
          `${kind}.${id}: unknown ${kind.slice(0, -1)} type "${type}"${near ? ` (did you mean "${near}"?)` : ''} (known: ${known.join(', ')})`,
          [kind],
          id,
        );
        continue;
      }
      const result = factory.configure(value);
      if (!result.ok) {
        for (const issue of result.issues)
          addIssue(problems, issue, [kind, id], value, factory.configSchema);
        continue;
      }
      out.set(id, { id, type, config: result.config, create: result.create });
    }
    return out;
  };
  const defined = section('extensions', parsed.extensions, extensions);
  const enabled = new Map<string, ComponentConfig<CreateExtension>>();
  for (const id of parsed.service.extensions) {
    const entry = defined.get(id);
    if (entry) enabled.set(id, entry);
    else if (!(id in parsed.extensions)) {
      problems.add(
        `service.extensions: "${id}" is not defined under extensions (defined: ${Object.keys(parsed.extensions).join(', ') || 'none'})`,
        ['service', 'extensions', parsed.service.extensions.indexOf(id)],
      );
    }
  }
  const config: CollectorConfig = {
    receivers: section('receivers', parsed.receivers, receivers),
    processors: section('processors', parsed.processors, processors),
    exporters: section('exporters', parsed.exporters, exporters),
    extensions: enabled,
    pipelines: [],
    adminAddress: parsed.service.telemetry.metrics.address,
    adminListener: parsed.service.telemetry.metrics,
    logLevel: parsed.service.telemetry.logs.level,
    cardinality: parsed.service.telemetry.cardinality,
    decodeThreads: parsed.service.decode_threads,
  };
  for (const [name, pipeline] of Object.entries(parsed.service.pipelines)) {
    const signal = name.split('/')[0];
    if (signal !== 'metrics') {
      problems.add(
        `service.pipelines.${name}: sluice runs metrics pipelines only (got "${signal}")`,
        ['service', 'pipelines'],
        name,
      );
      continue;
    }
    const check = (kind: 'receivers' | 'processors' | 'exporters', ids: string[]) => {
      ids.forEach((id, k) => {
        if (id in parsed[kind]) return;
        const defined = Object.keys(parsed[kind]);
        const near = nearestKey(id, defined);
        problems.add(
          `service.pipelines.${name}.${kind}: "${id}" is not defined under ${kind}${near ? ` (did you mean "${near}"?)` : ''} (defined: ${defined.join(', ') || 'none'})`,
          ['service', 'pipelines', name, kind, k],
        );
      });
    };
    check('receivers', pipeline.receivers);
    check('processors', pipeline.processors);
    check('exporters', pipeline.exporters);
    if (pipeline.receivers.length === 0)
      problems.add(`service.pipelines.${name}.receivers: a pipeline needs at least one receiver`, [
        'service',
        'pipelines',
        name,
      ]);
    if (pipeline.exporters.length === 0)
      problems.add(`service.pipelines.${name}.exporters: a pipeline needs at least one exporter`, [
        'service',
        'pipelines',
        name,
      ]);
    config.pipelines.push({ name, ...pipeline });
  }
  // An extension whose own config is invalid has its problem listed already.
  const broken = new Set(parsed.service.extensions.filter((id) => !enabled.has(id)));
  for (const kind of ['exporters', 'processors'] as const) {
    for (const [id, entry] of config[kind]) {
      const reference = storageReference(entry.config);
      if (!reference || broken.has(reference)) continue;
      const key = kind === 'exporters' ? 'sending_queue.storage' : 'storage';
      const path = [kind, id, ...key.split('.')];
      if (!enabled.has(reference)) {
        problems.add(
          `${kind}.${id}.${key}: "${reference}" is not an extension enabled in service.extensions (enabled: ${[...enabled.keys()].join(', ') || 'none'})`,
          path,
        );
      } else if (enabled.get(reference)!.type !== 'file_storage') {
        problems.add(`${kind}.${id}.${key}: "${reference}" is not a storage extension`, path);
      }
    }
  }
  for (const problem of authReferenceProblems(config, broken)) problems.add(problem);
  if (config.pipelines.length === 0 && problems.list.length === 0)
    problems.add('service.pipelines: define at least one metrics pipeline', ['service']);
  if (problems.list.length > 0) throw new ConfigError(source, problems.list, problems.spots);
  return config;
}

/**
 * Every block named `name` (`auth`, `tls`) at any depth of the receivers', the exporters' and
 * the admin server's configs, with its key path, and whether its component serves clients
 * (a listener) rather than reaching out to a backend.
 */
export function* nestedBlocks(
  config: CollectorConfig,
  name: string,
): Generator<{ key: string; value: object; serves: boolean }> {
  function* walk(
    value: unknown,
    key: string,
    serves: boolean,
  ): Generator<{ key: string; value: object; serves: boolean }> {
    if (!value || typeof value !== 'object') return;
    for (const [field, item] of Object.entries(value)) {
      if (field === name && item && typeof item === 'object')
        yield { key: `${key}.${field}`, value: item, serves };
      else yield* walk(item, `${key}.${field}`, serves);
    }
  }
  for (const [id, entry] of config.receivers) yield* walk(entry.config, `receivers.${id}`, true);
  for (const [id, entry] of config.exporters)
    yield* walk(entry.config, `exporters.${id}`, SERVING_EXPORTERS.has(entry.type));
  yield* walk({ metrics: config.adminListener }, 'service.telemetry', true);
}

/** Exporters that serve clients (a scrape endpoint): their `auth` checks, not sends. */
const SERVING_EXPORTERS = new Set(['prometheus']);

/**
 * Every `auth.authenticator` must name an enabled auth extension that can play its part:
 * checking clients on listeners (receivers, a scrape endpoint, the admin server), sending
 * credentials on exporters — `basicauth` needs `htpasswd` for the one and `client_auth` for
 * the other.
 */
function authReferenceProblems(config: CollectorConfig, broken: Set<string>): string[] {
  const references: { key: string; id: string; serves: boolean }[] = [];
  for (const { key, value, serves } of nestedBlocks(config, 'auth')) {
    const authenticator = (value as { authenticator?: unknown }).authenticator;
    if (typeof authenticator === 'string')
      references.push({ key: `${key}.authenticator`, id: authenticator, serves });
  }
  const problems: string[] = [];
  for (const { key, id, serves } of references) {
    const extension = config.extensions.get(id);
    if (broken.has(id)) continue;
    if (!extension) {
      problems.push(
        `${key}: "${id}" is not an extension enabled in service.extensions (enabled: ${[...config.extensions.keys()].join(', ') || 'none'})`,
      );
    } else if (extension.type !== 'bearertokenauth' && extension.type !== 'basicauth') {
      problems.push(`${key}: "${id}" is not an auth extension (bearertokenauth, basicauth)`);
    } else if (extension.type === 'basicauth') {
      const basic = extension.config as { htpasswd?: unknown; client_auth?: unknown };
      if (serves && !basic.htpasswd)
        problems.push(`${key}: "${id}" has no htpasswd to check clients against`);
      if (!serves && !basic.client_auth)
        problems.push(`${key}: "${id}" has no client_auth to send`);
    }
  }
  return problems;
}

/** The storage extension a component's config names: `sending_queue.storage` or `storage`. */
export function storageReference(config: unknown): string | undefined {
  const c = config as { sending_queue?: { storage?: string }; storage?: string } | undefined;
  return c?.sending_queue?.storage ?? c?.storage;
}

/**
 * A zod issue as a problem: its key path, what is wrong and what was there (never a secret),
 * where it is in the file, and for an unknown key the known key it is closest to.
 */
function addIssue(
  problems: Problems,
  issue: z.core.$ZodIssue,
  prefix: KeyPath,
  root: unknown,
  schema: z.ZodType,
): void {
  const at = [...prefix, ...(issue.path as (string | number)[])];
  const path = at.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const known = schemaKeysAt(schema, issue.path as (string | number)[]);
    const named = issue.keys.map((key) => {
      const near = nearestKey(key, known);
      return `"${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
    });
    problems.add(
      `${path || '(root)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${named.join(', ')}`,
      at,
      issue.keys[0],
    );
    return;
  }
  const message =
    issue.code === 'invalid_value' ? issue.message.replace('Invalid option: ', '') : issue.message;
  // Say what was there, unless the message already does or nothing was.
  let value: unknown = root;
  for (const key of issue.path)
    value =
      value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  // Never a secret: a token beside a typo is shown as <redacted>.
  const shown =
    value === undefined || message.includes('got ')
      ? ''
      : ` (got ${JSON.stringify(redactSecrets(value, at.map(String)))})`;
  problems.add(`${path || '(root)'}: ${message}${shown}`, at);
}

/** The built-in config `sluice run` uses without `--config`. */
export const DEFAULT_CONFIG = `# sluice's built-in default: OTLP in, batched, served for Prometheus to scrape.
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318
processors:
  batch:
    timeout: 1s
exporters:
  prometheus:
    endpoint: 127.0.0.1:9464
service:
  telemetry:
    metrics:
      address: 127.0.0.1:8888
  pipelines:
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [prometheus]
`;
