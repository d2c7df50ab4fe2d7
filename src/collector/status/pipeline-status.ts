import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type Collector, droppedByProcessor } from '../collector.js';
import type { RecentError, RecentErrors } from './recent-errors.js';

/**
 * The collector at one moment, as the dashboard and `sluice top` read it (`GET /api/status`,
 * and every second on `GET /api/events`). Counters are totals since the collector started:
 * a reader takes rates from two snapshots, so no snapshot depends on who asked before.
 */
export interface PipelineStatus {
  /** Milliseconds since the epoch when it was taken. */
  time: number;
  /** Seconds since the process started. */
  uptime: number;
  version: string;
  process: ProcessStatus;
  pipelines: { name: string; receivers: string[]; processors: string[]; exporters: string[] }[];
  receivers: ReceiverStatus[];
  processors: ProcessorStatus[];
  exporters: ExporterStatus[];
  errors: RecentError[];
  /** The pipeline's totals: what `totalsOf` makes of the rest. */
  totals: PipelineTotals;
}

/** Points through the whole collector since it started. */
export interface PipelineTotals {
  /** Accepted by the receivers. */
  in: number;
  /** Sent by the exporters (handed over, for an exporter that serves). */
  sent: number;
  /** Refused by receivers, dropped by processors and exporters, dead-lettered. */
  lost: number;
}

/** One second of the dashboard's throughput chart: the totals at `time`. */
export interface TotalsSample extends PipelineTotals {
  time: number;
}

export interface ProcessStatus {
  /** CPU seconds used (user and system), a total. */
  cpuSeconds: number;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Event-loop delay over the last second: p99 and max, in milliseconds. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Share of the last second the main thread was busy. */
  loopUtilization: number;
}

export interface ReceiverStatus {
  id: string;
  transport: string;
  requests: number;
  received: number;
  accepted: number;
  malformed: number;
  refused: Record<string, number>;
  refusedRequests: Record<string, number>;
}

export interface ProcessorStatus {
  id: string;
  pipeline: string;
  in: number;
  out: number;
  dropped: Record<string, number>;
}

export interface ExporterStatus {
  id: string;
  /** Points the pipelines handed to it. */
  incoming: number;
  dropped: Record<string, number>;
  /** Absent for an exporter without a delivery engine (a scrape endpoint). */
  delivery?: {
    destination: string;
    accepted: number;
    sent: number;
    rejected: number;
    retries: number;
    deadLettered: Record<string, number>;
    queuePoints: number;
    queueCapacity: number;
    breaker: 'closed' | 'half_open' | 'open' | 'none';
    /** A persistent queue's bytes on disk. */
    storageBytes?: number;
  };
}

/** Seconds of totals kept for a page that opens late (`/api/history`). */
const HISTORY_SECONDS = 300;

/**
 * Takes snapshots of a collector; keeps its own event-loop figures and the last five
 * minutes of totals, sampled each second.
 */
export class StatusSampler {
  readonly #collector: () => Collector | undefined;
  readonly #errors: RecentErrors | undefined;
  readonly #version: string;
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 10 });
  #utilizationMark = performance.eventLoopUtilization();
  #loop = { p99: 0, max: 0, utilization: 0 };
  readonly #history: TotalsSample[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(collector: () => Collector | undefined, errors?: RecentErrors, version = '') {
    this.#collector = collector;
    this.#errors = errors;
    this.#version = version;
  }

  start(): void {
    if (this.#timer) return;
    this.#loopDelay.enable();
    this.#timer = setInterval(() => this.#sampleLoop(), 1000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#loopDelay.disable();
  }

  /** Totals a second apart, oldest first, for the last five minutes. */
  history(): TotalsSample[] {
    return [...this.#history];
  }

  snapshot(): PipelineStatus {
    const collector = this.#collector();
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const parts = components(collector);
    return {
      time: Date.now(),
      uptime: process.uptime(),
      version: this.#version,
      process: {
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        loopDelayP99Ms: this.#loop.p99,
        loopDelayMaxMs: this.#loop.max,
        loopUtilization: this.#loop.utilization,
      },
      pipelines: collector?.pipelines.map((p) => ({ ...p })) ?? [],
      ...parts,
      errors: this.#errors?.list() ?? [],
      totals: totalsOf(parts),
    };
  }

  #sampleLoop(): void {
    // The totals only: not the process figures, the errors or the pipelines a snapshot has.
    this.#history.push({ time: Date.now(), ...totalsOf(components(this.#collector())) });
    if (this.#history.length > HISTORY_SECONDS) this.#history.shift();
    const utilization = performance.eventLoopUtilization(this.#utilizationMark);
    this.#utilizationMark = performance.eventLoopUtilization();
    this.#loop = {
      p99: this.#loopDelay.percentile(99) / 1e6,
      max: this.#loopDelay.max / 1e6,
      utilization: utilization.utilization,
    };
    this.#loopDelay.reset();
  }
}

/** The receivers', processors' and exporters' figures: what the totals are made from. */
function components(
  collector: Collector | undefined,
): Pick<PipelineStatus, 'receivers' | 'processors' | 'exporters'> {
  return {
    receivers: collector ? receivers(collector) : [],
    processors:
      collector?.processors.map((entry) => ({
        id: entry.id,
        pipeline: entry.pipeline,
        in: entry.counts.in,
        out: entry.counts.out,
        dropped: droppedByProcessor(entry),
      })) ?? [],
    exporters: collector ? exporters(collector) : [],
  };
}

function receivers(collector: Collector): ReceiverStatus[] {
  const out: ReceiverStatus[] = [];
  for (const [id, receiver] of collector.receivers) {
    for (const [transport, stats] of Object.entries(receiver.statsByTransport)) {
      out.push({
        id,
        transport,
        requests: stats.requests,
        received: stats.received,
        accepted: stats.accepted,
        malformed: stats.malformed,
        refused: { ...stats.refused },
        refusedRequests: { ...stats.refusedRequests },
      });
    }
  }
  return out;
}

function exporters(collector: Collector): ExporterStatus[] {
  return [...collector.exporters].map(([id, exporter]) => {
    const engine = exporter.engine;
    const status: ExporterStatus = {
      id,
      incoming: collector.exporterCounts.get(id)?.in ?? 0,
      dropped: { ...exporter.dropped },
    };
    if (engine) {
      const s = engine.stats;
      status.delivery = {
        destination: engine.destination,
        accepted: s.accepted,
        sent: s.sent,
        rejected: s.rejected,
        retries: s.retries,
        deadLettered: { ...s.deadLettered },
        queuePoints: engine.queue.points,
        queueCapacity: engine.queue.options.maxPoints,
        breaker: engine.breakerState ?? 'none',
        storageBytes: engine.queue.storage?.bytes,
      };
    }
    return status;
  });
}

const sum = (record: Readonly<Record<string, number>> | undefined) =>
  Object.values(record ?? {}).reduce((a, b) => a + b, 0);

/** The collector's totals from its components' counters. */
export function totalsOf(
  status: Pick<PipelineStatus, 'receivers' | 'processors' | 'exporters'>,
): PipelineTotals {
  return {
    in: status.receivers.reduce((n, r) => n + r.accepted, 0),
    sent: status.exporters.reduce((n, e) => n + (e.delivery ? e.delivery.sent : e.incoming), 0),
    lost:
      status.receivers.reduce((n, r) => n + sum(r.refused), 0) +
      status.processors.reduce((n, p) => n + sum(p.dropped), 0) +
      status.exporters.reduce((n, e) => n + sum(e.dropped) + sum(e.delivery?.deadLettered), 0),
  };
}
