// The sluice dashboard: reads a status snapshot every second from /api/events (Server-Sent
// Events) and draws rates from two snapshots in a row. No framework: a few tables, an SVG
// graph of the pipelines and uPlot charts (vendored with the package).

const THROUGHPUT_SECONDS = 300; // seconds of throughput kept for the chart
const throughput = { time: [], in: [], sent: [], lost: [] };
let previous;
let throughputChart;
let metricChart;
let selectedMetric;
let lastDetailFetch = 0;

const $ = (selector) => document.querySelector(selector);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'class') node.className = value;
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attributes = {}, text) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function rate(value) {
  if (!Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return abs >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1);
}

function bytes(value) {
  if (value === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const reasons = (record, seconds) =>
  Object.entries(record ?? {})
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${seconds ? `${rate(n / seconds)}/s` : n}`)
    .join(', ');

/** Per-second rate of `pick(entry)` between the previous and the current snapshot. */
function perSecond(current, list, key, pick) {
  if (!previous) return 0;
  const before = previous[list].find((e) => key(e) === key(current));
  if (!before) return 0;
  const seconds = (statusNow.time - previous.time) / 1000;
  return seconds > 0 ? Math.max(0, (pick(current) - pick(before)) / seconds) : 0;
}

let statusNow;

function receiverKey(r) {
  return `${r.id}/${r.transport}`;
}

function render(status) {
  statusNow = status;
  const seconds = previous ? (status.time - previous.time) / 1000 : 0;
  $('#version').textContent = status.version ? `v${status.version}` : '';
  $('#uptime').textContent = `up ${duration(status.uptime)}`;
  const now = status.totals;
  if (previous && seconds > 0) {
    const before = previous.totals;
    const rates = {
      in: (now.in - before.in) / seconds,
      sent: (now.sent - before.sent) / seconds,
      lost: (now.lost - before.lost) / seconds,
    };
    $('#total-in').textContent = rate(rates.in);
    $('#total-sent').textContent = rate(rates.sent);
    $('#total-lost').textContent = rate(rates.lost);
    $('#cpu').textContent =
      `${(((status.process.cpuSeconds - previous.process.cpuSeconds) / seconds) * 100).toFixed(0)} %`;
    pushThroughput(status.time, rates);
    drawThroughput();
  }
  $('#rss').textContent = bytes(status.process.rssBytes);
  $('#heap').textContent = bytes(status.process.heapUsedBytes);
  $('#loop').textContent = `${status.process.loopDelayP99Ms.toFixed(1)} ms`;
  $('#busy').textContent = `${(status.process.loopUtilization * 100).toFixed(0)} %`;
  renderReceivers(status, seconds);
  renderProcessors(status, seconds);
  renderExporters(status, seconds);
  renderGraph(status);
  renderCardinality(status.cardinality);
  renderErrors(status.errors);
  previous = status;
}

function pushThroughput(time, rates) {
  throughput.time.push(time / 1000);
  throughput.in.push(rates.in);
  throughput.sent.push(rates.sent);
  throughput.lost.push(rates.lost);
  for (const list of Object.values(throughput)) if (list.length > THROUGHPUT_SECONDS) list.shift();
}

/** The last five minutes the collector kept, so a page opened late starts with a chart. */
async function loadHistory() {
  const response = await fetch('/api/history');
  if (!response.ok) return;
  const samples = await response.json();
  for (let k = 1; k < samples.length; k++) {
    const seconds = (samples[k].time - samples[k - 1].time) / 1000;
    if (seconds <= 0) continue;
    pushThroughput(samples[k].time, {
      in: (samples[k].in - samples[k - 1].in) / seconds,
      sent: (samples[k].sent - samples[k - 1].sent) / seconds,
      lost: (samples[k].lost - samples[k - 1].lost) / seconds,
    });
  }
}

function lostSince(now, before, seconds) {
  const out = {};
  for (const [reason, n] of Object.entries(now ?? {})) out[reason] = n - (before?.[reason] ?? 0);
  return reasons(out, seconds);
}

function renderReceivers(status, seconds) {
  const body = $('#receivers tbody');
  body.replaceChildren(
    ...status.receivers.map((r) => {
      const before = previous?.receivers.find((p) => receiverKey(p) === receiverKey(r));
      return element(
        'tr',
        { 'data-receiver': receiverKey(r) },
        element('td', { text: r.id }),
        element('td', { text: r.transport }),
        element('td', {
          class: 'num',
          text: rate(perSecond(r, 'receivers', receiverKey, (x) => x.requests)),
        }),
        element('td', {
          class: 'num',
          text: rate(perSecond(r, 'receivers', receiverKey, (x) => x.accepted)),
        }),
        element('td', { class: 'num total', text: String(r.accepted) }),
        element('td', { class: 'reasons', text: lostSince(r.refused, before?.refused, seconds) }),
        element('td', { class: 'num', text: String(r.malformed) }),
      );
    }),
  );
}

function renderProcessors(status, seconds) {
  const key = (p) => `${p.pipeline}/${p.id}`;
  $('#processors tbody').replaceChildren(
    ...status.processors.map((p) => {
      const before = previous?.processors.find((q) => key(q) === key(p));
      return element(
        'tr',
        { 'data-processor': key(p) },
        element('td', { text: p.id }),
        element('td', { text: p.pipeline }),
        element('td', { class: 'num', text: rate(perSecond(p, 'processors', key, (x) => x.in)) }),
        element('td', { class: 'num', text: rate(perSecond(p, 'processors', key, (x) => x.out)) }),
        element('td', { class: 'reasons', text: lostSince(p.dropped, before?.dropped, seconds) }),
      );
    }),
  );
}

function renderExporters(status, seconds) {
  const key = (e) => e.id;
  $('#exporters tbody').replaceChildren(
    ...status.exporters.map((e) => {
      const d = e.delivery;
      const before = previous?.exporters.find((q) => q.id === e.id);
      const fill = d && d.queueCapacity > 0 ? d.queuePoints / d.queueCapacity : 0;
      const bar = element('span', { class: `bar${fill > 0.8 ? ' high' : ''}` }, element('span'));
      bar.firstChild.style.width = `${Math.min(100, fill * 100).toFixed(1)}%`;
      return element(
        'tr',
        { 'data-exporter': e.id },
        element('td', { text: e.id }),
        element('td', { text: d?.destination ?? '(serves)' }),
        element('td', {
          class: 'num',
          text: rate(perSecond(e, 'exporters', key, (x) => x.incoming)),
        }),
        element('td', {
          class: 'num',
          text: d ? rate(perSecond(e, 'exporters', key, (x) => x.delivery?.sent ?? 0)) : '–',
        }),
        element(
          'td',
          { class: 'queue', 'data-fill': fill.toFixed(4) },
          ...(d ? [bar, `${rate(d.queuePoints)} / ${rate(d.queueCapacity)}`] : ['–']),
        ),
        element('td', {
          class: 'num',
          text: d ? rate(perSecond(e, 'exporters', key, (x) => x.delivery?.retries ?? 0)) : '–',
        }),
        element(
          'td',
          {},
          element('span', {
            class: `badge breaker ${d?.breaker ?? 'none'}`,
            text: d?.breaker ?? '–',
          }),
        ),
        element('td', { class: 'reasons', text: reasons(d?.deadLettered) }),
        element('td', { class: 'reasons', text: lostSince(e.dropped, before?.dropped, seconds) }),
        element('td', {
          class: 'num',
          text: d?.storageBytes === undefined ? '–' : bytes(d.storageBytes),
        }),
      );
    }),
  );
}

/** Receivers → processors → exporters, one row per pipeline, live rates on the edges. */
function renderGraph(status) {
  const width = 180;
  const gap = 90;
  const height = 30;
  const rowGap = 24;
  const root = svg('svg', { role: 'img', 'aria-label': 'pipeline graph' });
  let y = 10;
  let widest = 0;
  const exporterState = new Map(status.exporters.map((e) => [e.id, e.delivery?.breaker]));
  for (const pipeline of status.pipelines) {
    const columns = [
      pipeline.receivers.map((id) => ({ id, kind: 'receiver' })),
      ...pipeline.processors.map((id) => [{ id, kind: 'processor' }]),
      pipeline.exporters.map((id) => ({ id, kind: 'exporter' })),
    ];
    const rows = Math.max(...columns.map((c) => c.length));
    const group = svg('g', { 'data-pipeline': pipeline.name });
    group.append(svg('text', { x: 0, y: y + 12 }, `pipeline ${pipeline.name}`));
    const top = y + 20;
    const centers = columns.map((column, c) =>
      column.map((node, r) => {
        const x = c * (width + gap);
        const ny = top + ((rows - column.length) / 2 + r) * (height + 8);
        const open = node.kind === 'exporter' && exporterState.get(node.id) === 'open';
        const box = svg('g', { class: `node ${node.kind}${open ? ' open' : ''}` });
        box.append(svg('rect', { x, y: ny, width, height, rx: 4 }));
        box.append(svg('text', { x: x + 8, y: ny + 19 }, node.id));
        group.append(box);
        return { x, y: ny + height / 2, node };
      }),
    );
    for (let c = 0; c + 1 < centers.length; c++) {
      for (const from of centers[c]) {
        for (const to of centers[c + 1]) {
          const x1 = from.x + width;
          const x2 = to.x;
          group.append(
            svg('path', {
              class: 'edge',
              d: `M${x1},${from.y} C${x1 + gap / 2},${from.y} ${x2 - gap / 2},${to.y} ${x2},${to.y}`,
            }),
          );
          const label = edgeRate(status, pipeline, from.node, to.node);
          group.append(
            svg(
              'text',
              { class: 'rate', x: (x1 + x2) / 2 - 20, y: (from.y + to.y) / 2 - 4 },
              `${rate(label)}/s`,
            ),
          );
        }
      }
    }
    root.append(group);
    widest = Math.max(widest, columns.length * (width + gap) - gap);
    y = top + rows * (height + 8) + rowGap;
  }
  root.setAttribute('width', String(widest + 10));
  root.setAttribute('height', String(y));
  $('#graph').replaceChildren(root);
}

function edgeRate(status, pipeline, from, to) {
  if (from.kind === 'receiver') {
    return status.receivers
      .filter((r) => r.id === from.id)
      .reduce((n, r) => n + perSecond(r, 'receivers', receiverKey, (x) => x.accepted), 0);
  }
  if (from.kind === 'processor') {
    const key = (p) => `${p.pipeline}/${p.id}`;
    const entry = status.processors.find((p) => p.pipeline === pipeline.name && p.id === from.id);
    return entry ? perSecond(entry, 'processors', key, (x) => x.out) : 0;
  }
  const exporter = status.exporters.find((e) => e.id === to.id);
  return exporter
    ? perSecond(
        exporter,
        'exporters',
        (e) => e.id,
        (x) => x.incoming,
      )
    : 0;
}

function drawThroughput() {
  const data = [throughput.time, throughput.in, throughput.sent, throughput.lost];
  if (!throughputChart) {
    const target = $('#throughput-chart');
    throughputChart = new uPlot(
      {
        width: target.clientWidth || 800,
        height: 220,
        series: [
          {},
          { label: 'in', stroke: '#4aa3ff', value: (_, v) => (v == null ? '–' : rate(v)) },
          { label: 'sent', stroke: '#3ecf8e', value: (_, v) => (v == null ? '–' : rate(v)) },
          {
            label: 'refused + dropped',
            stroke: '#ff6b6b',
            value: (_, v) => (v == null ? '–' : rate(v)),
          },
        ],
        axes: [{ stroke: '#8a96a3' }, { stroke: '#8a96a3', values: (_, ticks) => ticks.map(rate) }],
      },
      data,
      target,
    );
  } else throughputChart.setData(data);
}

function renderCardinality(report) {
  if (!report) {
    $('#cardinality-note').textContent = 'off (service.telemetry.cardinality.enabled: false)';
    return;
  }
  const note = [
    `${rate(report.series)} active series (seen in the last ${duration(report.activeWindowMs / 1000)})`,
  ];
  if (report.sampling > 1) note.push(`one series in ${report.sampling} sampled, counts scaled`);
  if (report.coverage < 1) note.push(`${(report.coverage * 100).toFixed(0)} % of points read`);
  $('#cardinality-note').textContent = note.join(' · ');
  $('#cardinality-metrics tbody').replaceChildren(
    ...report.metrics.map((m) => {
      const row = element(
        'tr',
        { 'data-metric': m.metric, class: m.metric === selectedMetric ? 'selected' : '' },
        element('td', { text: m.metric }),
        element('td', { class: 'num', text: rate(m.series) }),
        element('td', {}, sparkline(m.trend)),
      );
      row.addEventListener('click', () => selectMetric(m.metric));
      return row;
    }),
  );
  if (!selectedMetric && report.metrics.length > 0) selectMetric(report.metrics[0].metric);
  else if (selectedMetric && Date.now() - lastDetailFetch > 2000) loadMetric(selectedMetric);
}

function sparkline(values) {
  const width = 100;
  const height = 20;
  const node = svg('svg', { width, height });
  if (values.length > 1) {
    const max = Math.max(...values, 1);
    const points = values
      .map(
        (v, i) => `${(i / (values.length - 1)) * width},${height - (v / max) * (height - 2) - 1}`,
      )
      .join(' ');
    node.append(svg('polyline', { points, fill: 'none', stroke: '#4aa3ff' }));
  }
  return node;
}

function selectMetric(metric) {
  selectedMetric = metric;
  for (const row of document.querySelectorAll('#cardinality-metrics tbody tr'))
    row.classList.toggle('selected', row.dataset.metric === metric);
  loadMetric(metric);
}

async function loadMetric(metric) {
  lastDetailFetch = Date.now();
  const response = await fetch(`/api/cardinality?metric=${encodeURIComponent(metric)}`);
  if (!response.ok || metric !== selectedMetric) return;
  const { attributes } = await response.json();
  $('#metric-detail').hidden = false;
  $('#metric-name').textContent = metric;
  $('#attributes tbody').replaceChildren(
    ...attributes.map((a) =>
      element(
        'tr',
        { 'data-attribute': a.key },
        element('td', { class: 'key', text: a.key }),
        element('td', { class: 'num', text: String(a.distinct) }),
        element('td', { text: a.top.map(([value, n]) => `${value} (${n})`).join(', ') }),
      ),
    ),
  );
  const top = attributes[0];
  $('#suggestion').replaceChildren(
    ...(top && top.distinct > 1
      ? [
          `"${top.key}" has the most distinct values. To aggregate it away, add an `,
          element('code', { text: 'aggregate' }),
          ' processor rule:',
          element('pre', {
            text: `aggregate:\n  rules:\n    - metrics: ["${metric}"]\n      drop_attributes: [${top.key}]`,
          }),
        ]
      : []),
  );
  const trend = statusNow?.cardinality?.metrics.find((m) => m.metric === metric)?.trend ?? [];
  const interval = 10;
  const data = [trend.map((_, i) => Date.now() / 1000 - (trend.length - 1 - i) * interval), trend];
  if (!metricChart) {
    const target = $('#metric-chart');
    metricChart = new uPlot(
      {
        width: target.clientWidth || 400,
        height: 160,
        series: [{}, { label: 'active series', stroke: '#f5b942' }],
        axes: [{ stroke: '#8a96a3' }, { stroke: '#8a96a3', values: (_, ticks) => ticks.map(rate) }],
      },
      data,
      target,
    );
  } else metricChart.setData(data);
}

function renderErrors(errors) {
  $('#errors').replaceChildren(
    ...errors.map((e) =>
      element(
        'li',
        { class: e.level },
        element('span', { class: 'time', text: new Date(e.time).toLocaleTimeString() }),
        `${e.component ? `${e.component}: ` : ''}${e.message}`,
      ),
    ),
  );
}

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('status', (event) => {
    $('#connection').textContent = 'live';
    $('#connection').className = 'badge ok';
    render(JSON.parse(event.data));
  });
  events.addEventListener('error', () => {
    $('#connection').textContent = 'reconnecting…';
    $('#connection').className = 'badge off';
  });
}

loadHistory().finally(connect);
