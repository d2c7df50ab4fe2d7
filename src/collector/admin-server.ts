import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino, { type Logger } from 'pino';
import type { StorageStats } from '../delivery/persistent/persistent-queue.js';
import type { ListenerProtection, ServerAuthenticator } from '../model/auth.js';
import { requestBytes } from '../model/byte-pool.js';
import { HttpListener } from '../net/http-listener.js';
import { HTTP_LISTENER_DEFAULTS, type HttpListenerConfig } from '../net/listener-config.js';
import { type Collector, droppedByProcessor, unreadableStateOf } from './collector.js';
import { dashboardAsset } from './status/dashboard-assets.js';
import { StatusSampler } from './status/pipeline-status.js';
import type { RecentErrors } from './status/recent-errors.js';

export interface AdminServerOptions extends Partial<HttpListenerConfig> {
  /** `service.telemetry.metrics.address`. */
  address: string;
  /** Checks every request (`service.telemetry.metrics.auth`). */
  authenticator?: ServerAuthenticator;
  logger?: Logger;
  /** The logger's recent warnings and errors, for the dashboard. */
  recentErrors?: RecentErrors;
  /** Shown on the dashboard. */
  version?: string;
}

/** How often `/api/events` sends a snapshot. */
const EVENT_INTERVAL_MS = 1000;

/**
 * `/healthz` (the process runs), `/readyz` (every receiver listens), `/metrics` (the
 * collector's own counters in the Prometheus text format, for scraping) and the dashboard:
 * `/` (a live page), `/api/status` (the pipeline's figures as JSON), `/api/events` (the same
 * every second, as Server-Sent Events), `/api/history` (the last five minutes of totals)
 * and `/api/cardinality` (which metrics and attributes
 * hold the series). Everything is read-only (GET and HEAD), behind the same TLS and auth.
 */
export class AdminServer {
  readonly #collector: () => Collector | undefined;
  readonly #loopDelay = monitorEventLoopDelay({ resolution: 20 });
  readonly #listener: HttpListener;
  /** Requests turned away (no valid credentials, failed TLS handshake), by reason. */
  readonly #refused: Record<string, number> = {};
  /** Event-loop utilization at the previous scrape: the gauge covers the time since. */
  #lastUtilization = performance.eventLoopUtilization();
  readonly #status: StatusSampler;

  constructor(options: AdminServerOptions, collector: () => Collector | undefined) {
    this.#collector = collector;
    this.#status = new StatusSampler(collector, options.recentErrors, options.version);
    this.#listener = new HttpListener(
      {
        ...HTTP_LISTENER_DEFAULTS,
        ...options,
        endpoint: options.address,
        endpointKey: 'service.telemetry.metrics.address',
        logger: (options.logger ?? pino({ enabled: false })).child({ component: 'admin' }),
        onRefused: (reason) => {
          this.#refused[reason] = (this.#refused[reason] ?? 0) + 1;
        },
      },
      (req, res) => this.#handle(req, res),
    );
  }

  get address(): string {
    return this.#listener.address;
  }

  /** `http://` or `https://` and the bound address, with `path`. */
  url(path: string): string {
    return this.#listener.url(path);
  }

  get protection(): ListenerProtection {
    return this.#listener.protection('admin server');
  }

  async start(): Promise<void> {
    this.#loopDelay.enable();
    this.#status.start();
    await this.#listener.start();
  }

  async stop(): Promise<void> {
    this.#loopDelay.disable();
    this.#status.stop();
    await this.#listener.close('force');
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const collector = this.#collector();
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('read-only\n');
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = collector?.ready ?? false;
      res
        .writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' })
        .end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      res
        .writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
        .end(collector ? this.#metrics(collector) : '');
    } else if (path === '/api/status') {
      json(res, this.#snapshot());
    } else if (path === '/api/history') {
      json(res, this.#status.history());
    } else if (path === '/api/events') {
      this.#events(req, res);
    } else if (path === '/api/cardinality') {
      const metric = url.searchParams.get('metric');
      const tracker = collector?.cardinality;
      if (!tracker)
        json(
          res,
          { error: 'the cardinality explorer is off (service.telemetry.cardinality)' },
          404,
        );
      else if (metric === null)
        json(res, tracker.report(Number(url.searchParams.get('limit') ?? 20)));
      else {
        const attributes = tracker.attributes(metric);
        if (attributes) json(res, { metric, attributes });
        else json(res, { error: `no series of metric "${metric}" seen` }, 404);
      }
    } else {
      const name =
        path === '/' ? 'index.html' : path.startsWith('/assets/') ? path.slice(8) : undefined;
      const asset = name === undefined ? undefined : dashboardAsset(name);
      if (asset) {
        res
          .writeHead(200, {
            'content-type': asset.type,
            'cache-control': 'no-cache',
            'x-content-type-options': 'nosniff',
            ...(asset.type.startsWith('text/html')
              ? { 'content-security-policy': DASHBOARD_CSP }
              : {}),
          })
          .end(asset.body);
        return;
      }
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(
          'try /, /healthz, /readyz, /metrics, /api/status, /api/events, /api/history or /api/cardinality\n',
        );
    }
  }

  /** The status snapshot with the cardinality summary the dashboard shows beside it. */
  #snapshot() {
    return { ...this.#status.snapshot(), cardinality: this.#collector()?.cardinality?.report(20) };
  }

  /** Server-Sent Events: a snapshot now and every second, until the client goes away. */
  #events(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    const send = () => res.write(`event: status\ndata: ${JSON.stringify(this.#snapshot())}\n\n`);
    send();
    const timer = setInterval(send, EVENT_INTERVAL_MS);
    req.socket.once('close', () => clearInterval(timer));
  }

  #metrics(collector: Collector): string {
    const out = new PrometheusText();
    for (const [id, receiver] of collector.receivers) {
      for (const [transport, stats] of Object.entries(receiver.statsByTransport)) {
        const labels = { receiver: id, transport };
        for (const [name, help, key] of RECEIVER_COUNTERS)
          out.counter(name, help, labels, stats[key]);
        out.countersByReason(
          'sluice_receiver_refused_points_total',
          'Points refused, by reason',
          labels,
          stats.refused,
        );
        out.countersByReason(
          'sluice_receiver_refused_requests_total',
          'Requests and connections turned away before their data was read, by reason',
          labels,
          stats.refusedRequests,
        );
        out.countersByReason(
          'sluice_receiver_stalls_total',
          'Consumers that got none of the messages the server held for them, by what the receiver did',
          labels,
          stats.stalls,
          'action',
        );
      }
    }
    for (const [id, exporter] of collector.exporters) {
      out.counter(
        'sluice_exporter_incoming_points_total',
        'Points the pipelines handed to the exporter',
        { exporter: id },
        collector.exporterCounts.get(id)?.in ?? 0,
      );
      droppedPoints(out, { exporter: id }, exporter.dropped);
      out.countersByReason(
        'sluice_exporter_refused_requests_total',
        'Requests to the endpoint the exporter serves turned away, by reason',
        { exporter: id },
        exporter.refusedRequests ?? {},
      );
      const engine = exporter.engine;
      if (!engine) continue;
      const s = engine.stats;
      const labels = { exporter: id };
      out.counter(
        'sluice_exporter_accepted_points_total',
        'Points accepted into the queue',
        labels,
        s.accepted,
      );
      out.counter(
        'sluice_exporter_sent_points_total',
        'Points the backend accepted',
        labels,
        s.sent,
      );
      out.counter(
        'sluice_exporter_rejected_points_total',
        'Points refused by the backend in a partial success',
        labels,
        s.rejected,
      );
      out.counter('sluice_exporter_retries_total', 'Send attempts retried', labels, s.retries);
      out.countersByReason(
        'sluice_exporter_dead_lettered_points_total',
        'Points written to dead letters, by reason',
        labels,
        s.deadLettered,
      );
      out.gauge(
        'sluice_exporter_queue_points',
        'Points waiting in the queue',
        labels,
        engine.queue.points,
      );
      out.gauge(
        'sluice_exporter_queue_capacity_points',
        'Queue capacity in points',
        labels,
        engine.queue.options.maxPoints,
      );
      const storage = engine.queue.storage;
      if (storage) storageLines(out, labels, storage);
      out.gauge(
        'sluice_exporter_breaker_state',
        'Circuit breaker: 0 closed, 1 half-open, 2 open',
        labels,
        { closed: 0, half_open: 1, open: 2 }[engine.breakerState ?? 'closed'],
      );
    }
    for (const entry of collector.processors) {
      const { id, pipeline, counts } = entry;
      const labels = { processor: id, pipeline };
      out.counter(
        'sluice_processor_incoming_points_total',
        'Points handed to the processor',
        labels,
        counts.in,
      );
      out.counter(
        'sluice_processor_outgoing_points_total',
        'Points the processor passed on',
        labels,
        counts.out,
      );
      droppedPoints(out, { processor: id }, droppedByProcessor(entry));
      const unreadable = unreadableStateOf(entry);
      if (unreadable !== undefined) {
        out.counter(
          'sluice_processor_state_unreadable_total',
          'Parts of stored state that could not be read at start and were gone on without',
          { processor: id },
          unreadable,
        );
      }
    }
    const pool = collector.decodePool;
    out.gauge('sluice_decode_threads', 'Worker threads decoding request bodies', {}, pool.threads);
    for (const [where, value] of [
      ['worker_thread', pool.stats.onThreads],
      ['main_thread', pool.stats.onMainThread],
    ] as const) {
      out.counter(
        'sluice_decoded_requests_total',
        'Request bodies decoded, by thread',
        { thread: where },
        value,
      );
    }
    out.countersByReason(
      'sluice_admin_refused_requests_total',
      'Requests to the admin server turned away, by reason',
      {},
      this.#refused,
    );
    const memory = process.memoryUsage();
    out.gauge('sluice_process_heap_used_bytes', 'V8 heap in use', {}, memory.heapUsed);
    out.gauge('sluice_process_heap_total_bytes', 'V8 heap reserved', {}, memory.heapTotal);
    out.gauge(
      'sluice_process_array_buffer_bytes',
      'Memory of ArrayBuffers and Buffers (request bodies, queued requests, reusable request buffers), outside the V8 heap',
      {},
      memory.arrayBuffers,
    );
    out.gauge(
      'sluice_request_buffers_free_bytes',
      'Request buffers kept for reuse (of sluice_process_array_buffer_bytes)',
      {},
      requestBytes.freeBytes,
    );
    out.gauge('sluice_process_resident_memory_bytes', 'Resident set size', {}, memory.rss);
    out.gauge(
      'sluice_event_loop_delay_max_seconds',
      'Largest event-loop delay since the last scrape',
      {},
      this.#loopDelay.max / 1e9,
    );
    out.gauge(
      'sluice_event_loop_delay_p99_seconds',
      'p99 event-loop delay since the last scrape',
      {},
      this.#loopDelay.percentile(99) / 1e9,
    );
    this.#loopDelay.reset();
    const utilization = performance.eventLoopUtilization(this.#lastUtilization);
    this.#lastUtilization = performance.eventLoopUtilization();
    out.gauge(
      'sluice_event_loop_utilization_ratio',
      'Share of the time since the last scrape the main thread was busy (1: saturated)',
      {},
      utilization.utilization,
    );
    return out.text();
  }
}

/** The page loads nothing but its own files, and runs no inline script. */
const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'";

function json(res: ServerResponse, body: unknown, status = 200): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(body ?? null));
}

/** The counters every receiver keeps per transport, as `/metrics` lines. */
const RECEIVER_COUNTERS: readonly [
  string,
  string,
  'requests' | 'received' | 'accepted' | 'malformed' | 'scanned' | 'relayed',
][] = [
  ['sluice_receiver_requests_total', 'Requests received', 'requests'],
  ['sluice_receiver_received_points_total', 'Points received in requests', 'received'],
  ['sluice_receiver_accepted_points_total', 'Points the pipeline accepted', 'accepted'],
  ['sluice_receiver_malformed_requests_total', 'Requests that could not be decoded', 'malformed'],
  [
    'sluice_receiver_scanned_requests_total',
    'Requests the pipeline took without decoding them into a batch (its fast path)',
    'scanned',
  ],
  [
    'sluice_receiver_relayed_requests_total',
    'Requests checked and carried to the exporters as they came, without decoding (a relay)',
    'relayed',
  ],
];

/** A component's lost points, by reason: one line each, labelled with the component. */
function droppedPoints(
  out: PrometheusText,
  component: Record<string, string>,
  dropped: Readonly<Record<string, number>>,
): void {
  out.countersByReason('sluice_dropped_points_total', 'Points lost, by reason', component, dropped);
}

/** Just enough of the Prometheus text format 0.0.4 for the collector's own metrics. */
class PrometheusText {
  #families = new Map<string, { type: string; help: string; lines: string[] }>();

  counter(name: string, help: string, labels: Record<string, string>, value: number): void {
    this.#add(name, 'counter', help, labels, value);
  }

  gauge(name: string, help: string, labels: Record<string, string>, value: number): void {
    this.#add(name, 'gauge', help, labels, value);
  }

  /** One counter line per reason of `byReason`, labelled `reason` (or `label`). */
  countersByReason(
    name: string,
    help: string,
    labels: Record<string, string>,
    byReason: Readonly<Record<string, number>>,
    label = 'reason',
  ): void {
    for (const [reason, value] of Object.entries(byReason))
      this.#add(name, 'counter', help, { ...labels, [label]: reason }, value);
  }

  text(): string {
    let out = '';
    for (const [name, family] of this.#families) {
      out += `# HELP ${name} ${family.help}\n# TYPE ${name} ${family.type}\n${family.lines.join('')}`;
    }
    return out;
  }

  #add(
    name: string,
    type: string,
    help: string,
    labels: Record<string, string>,
    value: number,
  ): void {
    let family = this.#families.get(name);
    if (!family) {
      family = { type, help, lines: [] };
      this.#families.set(name, family);
    }
    const rendered = Object.entries(labels)
      .map(
        ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
      )
      .join(',');
    family.lines.push(`${name}${rendered ? `{${rendered}}` : ''} ${value}\n`);
  }
}

/** A persistent queue's lines: what it holds, how old, what recovery found. */
function storageLines(
  out: PrometheusText,
  labels: Record<string, string>,
  storage: StorageStats,
): void {
  out.gauge(
    'sluice_exporter_storage_records',
    'Requests in the persistent queue not yet delivered',
    labels,
    storage.records,
  );
  out.gauge(
    'sluice_exporter_storage_bytes',
    'Bytes of those requests on disk',
    labels,
    storage.bytes,
  );
  out.gauge(
    'sluice_exporter_storage_disk_bytes',
    'Bytes of the queue segment files',
    labels,
    storage.diskBytes,
  );
  out.gauge(
    'sluice_exporter_storage_oldest_age_seconds',
    'Age of the oldest undelivered request (0 when empty)',
    labels,
    storage.oldestAt === undefined ? 0 : Math.max(0, (Date.now() - storage.oldestAt) / 1000),
  );
  for (const [name, help, value] of [
    ['replayed_records', 'Requests found on disk at start and replayed', storage.replayedRecords],
    ['replayed_points', 'Points found on disk at start and replayed', storage.replayedPoints],
    [
      'corrupt_records',
      'Stored records skipped: torn or failing their checksum',
      storage.corruptRecords,
    ],
    ['written_bytes', 'Bytes written to the queue segments', storage.writtenBytes],
    [
      'write_errors',
      'Writes that failed (disk full, I/O error); their data was refused',
      storage.writeErrors,
    ],
  ] as const) {
    out.counter(`sluice_exporter_storage_${name}_total`, help, labels, value);
  }
}
