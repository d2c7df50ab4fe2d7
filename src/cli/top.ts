import { setTimeout as sleep } from 'node:timers/promises';
import type { CardinalityReport } from '../collector/status/cardinality.js';
import type { PipelineStatus } from '../collector/status/pipeline-status.js';
import type { CliIo } from './io.js';

/** What `/api/status` answers: the status and the cardinality summary beside it. */
export type StatusSnapshot = PipelineStatus & { cardinality?: CardinalityReport };

export interface TopOptions {
  /** The admin server, e.g. http://127.0.0.1:8888. */
  admin: string;
  /** A bearer token for an admin server behind `bearertokenauth`. */
  token?: string;
  /** A refreshing screen (a terminal) or one plain line per refresh. */
  tty: boolean;
  intervalMs?: number;
  /** Stop after this many refreshes (0: until interrupted). */
  iterations?: number;
  signal?: AbortSignal;
}

/**
 * `sluice top`: the dashboard's figures in a terminal, refreshed every second from the
 * admin server's `/api/status` — a table redrawn in place on a terminal (it works over
 * ssh), one plain line per refresh otherwise (for logs and pipes).
 */
export async function runTop(options: TopOptions, io: CliIo): Promise<number> {
  const url = `${options.admin.replace(/\/$/, '')}/api/status`;
  const headers: Record<string, string> = options.token
    ? { authorization: `Bearer ${options.token}` }
    : {};
  let previous: StatusSnapshot | undefined;
  for (let n = 0; !options.iterations || n < options.iterations; n++) {
    if (options.signal?.aborted) break;
    let current: StatusSnapshot;
    try {
      const response = await fetch(url, { headers, signal: options.signal });
      if (!response.ok) {
        io.err(`sluice top: ${url} answered ${response.status}${authHint(response.status)}`);
        return 1;
      }
      current = (await response.json()) as StatusSnapshot;
    } catch (err) {
      if (options.signal?.aborted) break;
      io.err(`sluice top: cannot read ${url}: ${(err as Error).message}`);
      return 1;
    }
    io.out(
      options.tty
        ? `\x1b[H\x1b[2J${topScreen(previous, current, options.admin)}`
        : topLine(previous, current),
    );
    previous = current;
    if (!options.iterations || n + 1 < options.iterations)
      await sleep(options.intervalMs ?? 1000, undefined, { signal: options.signal }).catch(
        () => {},
      );
  }
  return 0;
}

function authHint(status: number): string {
  return status === 401
    ? ' (the admin server wants credentials: --token or SLUICE_ADMIN_TOKEN)'
    : '';
}

/** Rates between two snapshots, per component and in total. */
class Rates {
  readonly seconds: number;
  constructor(
    readonly before: StatusSnapshot | undefined,
    readonly now: StatusSnapshot,
  ) {
    this.seconds = before ? (now.time - before.time) / 1000 : 0;
  }

  of(now: number, before: number | undefined): number {
    return this.seconds > 0 && before !== undefined
      ? Math.max(0, (now - before) / this.seconds)
      : NaN;
  }

  /** The rate of `pick` on the entry `find` takes out of each snapshot. */
  #rate<T>(find: (s: StatusSnapshot) => T | undefined, pick: (entry: T) => number): number {
    const now = find(this.now);
    const before = this.before && find(this.before);
    return now === undefined ? NaN : this.of(pick(now), before && pick(before));
  }

  receiver(
    id: string,
    transport: string,
    pick: (r: StatusSnapshot['receivers'][number]) => number,
  ): number {
    return this.#rate(
      (s) => s.receivers.find((r) => r.id === id && r.transport === transport),
      pick,
    );
  }

  processor(
    pipeline: string,
    id: string,
    pick: (p: StatusSnapshot['processors'][number]) => number,
  ): number {
    return this.#rate(
      (s) => s.processors.find((p) => p.pipeline === pipeline && p.id === id),
      pick,
    );
  }

  exporter(id: string, pick: (e: StatusSnapshot['exporters'][number]) => number): number {
    return this.#rate((s) => s.exporters.find((e) => e.id === id), pick);
  }

  get totals(): { in: number; sent: number; lost: number; cpu: number } {
    const now = this.now.totals;
    const before = this.before?.totals;
    return {
      in: this.of(now.in, before?.in),
      sent: this.of(now.sent, before?.sent),
      lost: this.of(now.lost, before?.lost),
      cpu: this.of(this.now.process.cpuSeconds, this.before?.process.cpuSeconds) * 100,
    };
  }
}

/** One line: the totals, each exporter's queue and breaker, the process. */
export function topLine(before: StatusSnapshot | undefined, now: StatusSnapshot): string {
  const rates = new Rates(before, now);
  const t = rates.totals;
  const exporters = now.exporters
    .filter((e) => e.delivery)
    .map((e) => {
      const d = e.delivery!;
      return `${e.id}: queue ${percent(d.queuePoints / d.queueCapacity)} breaker ${d.breaker}`;
    });
  return [
    new Date(now.time).toISOString(),
    `in ${rate(t.in)}/s`,
    `sent ${rate(t.sent)}/s`,
    `refused+dropped ${rate(t.lost)}/s`,
    ...exporters,
    `cpu ${Number.isNaN(t.cpu) ? '–' : `${t.cpu.toFixed(0)}%`}`,
    `rss ${bytes(now.process.rssBytes)}`,
    `loop p99 ${now.process.loopDelayP99Ms.toFixed(1)}ms`,
  ].join('  ');
}

/** The screen: process, receivers, processors, exporters, top metrics, recent errors. */
export function topScreen(
  before: StatusSnapshot | undefined,
  now: StatusSnapshot,
  admin: string,
): string {
  const rates = new Rates(before, now);
  const t = rates.totals;
  const p = now.process;
  const lines = [
    `sluice ${now.version} · up ${uptime(now.uptime)} · ${admin} · cpu ${Number.isNaN(t.cpu) ? '–' : `${t.cpu.toFixed(0)}%`} · rss ${bytes(p.rssBytes)} · heap ${bytes(p.heapUsedBytes)} · loop p99 ${p.loopDelayP99Ms.toFixed(1)} ms · busy ${percent(p.loopUtilization)}`,
    `in ${rate(t.in)}/s · sent ${rate(t.sent)}/s · refused+dropped ${rate(t.lost)}/s`,
    '',
    ...table(
      ['RECEIVER', 'TRANSPORT', 'REQ/S', 'IN/S', 'REFUSED', 'MALFORMED'],
      now.receivers.map((r) => [
        r.id,
        r.transport,
        rate(rates.receiver(r.id, r.transport, (x) => x.requests)),
        rate(rates.receiver(r.id, r.transport, (x) => x.accepted)),
        reasons(r.refused),
        String(r.malformed),
      ]),
    ),
    '',
    ...table(
      ['PROCESSOR', 'PIPELINE', 'IN/S', 'OUT/S', 'DROPPED'],
      now.processors.map((x) => [
        x.id,
        x.pipeline,
        rate(rates.processor(x.pipeline, x.id, (y) => y.in)),
        rate(rates.processor(x.pipeline, x.id, (y) => y.out)),
        reasons(x.dropped),
      ]),
    ),
    '',
    ...table(
      ['EXPORTER', 'IN/S', 'SENT/S', 'QUEUE', 'RETRIES/S', 'BREAKER', 'DEAD LETTERS', 'DROPPED'],
      now.exporters.map((e) => {
        const d = e.delivery;
        return [
          e.id,
          rate(rates.exporter(e.id, (x) => x.incoming)),
          d ? rate(rates.exporter(e.id, (x) => x.delivery?.sent ?? 0)) : '–',
          d ? `${percent(d.queuePoints / d.queueCapacity)} (${rate(d.queuePoints)})` : '–',
          d ? rate(rates.exporter(e.id, (x) => x.delivery?.retries ?? 0)) : '–',
          d?.breaker ?? '–',
          reasons(d?.deadLettered ?? {}),
          reasons(e.dropped),
        ];
      }),
    ),
  ];
  const cardinality = now.cardinality;
  if (cardinality && cardinality.metrics.length > 0) {
    const note = [
      cardinality.sampling > 1 ? `1 series in ${cardinality.sampling} sampled` : '',
      cardinality.coverage < 1 ? `${percent(cardinality.coverage)} of points read` : '',
    ].filter(Boolean);
    lines.push(
      '',
      ...table(
        [`METRIC (top by active series${note.length ? `; ${note.join(', ')}` : ''})`, 'SERIES'],
        cardinality.metrics.slice(0, 5).map((m) => [m.metric, rate(m.series)]),
      ),
    );
  }
  if (now.errors.length > 0) {
    lines.push('', 'RECENT WARNINGS AND ERRORS');
    for (const e of now.errors.slice(0, 5))
      lines.push(
        `${new Date(e.time).toISOString().slice(11, 19)} ${e.level} ${e.component ? `${e.component}: ` : ''}${e.message}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function reasons(record: Readonly<Record<string, number>>): string {
  const parts = Object.entries(record)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${rate(n)}`);
  return parts.length > 0 ? parts.join(', ') : '–';
}

function rate(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return abs >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1);
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%` : '–';
}

function bytes(value: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function uptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
