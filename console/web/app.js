// queue console: the page.  One view at a time, chosen by the location's
// hash (#/, #/queue/<name>, #/stream/<name>), refreshed in place every
// refresh_seconds.  Every value from the server reaches the document as
// text (textContent, attributes): never as HTML.

import uPlot from 'uplot';

const app = {
  session: null,
  view: null,
  timer: null,
  errorSource: null,
  queueNames: [],
};

/* ------------------------------------------------------------------ DOM */

const SVG = 'http://www.w3.org/2000/svg';

function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// h('td', { class, testid, text, title, onclick, ... }, ...children)
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'testid') el.dataset.testid = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (typeof v === 'boolean' || typeof v === 'number') {
        if (k in el) el[k] = v;
        else el.setAttribute(k, String(v));
      } else el.setAttribute(k, v);
    }
  }
  return add(el, children);
}

const $ = (sel, root = document) => root.querySelector(sel);

// Replace an element's children (nulls and falses are left out).
function fill(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// Keep a container's keyed children in step with items: an unchanged item
// keeps its node (and whatever is selected in it), a changed one is
// rendered anew, order follows items.  With morph, a changed node keeps
// itself and those of its children that are equal to the new ones (cells
// whose text did not change stay as they are).
function patch(container, items, keyOf, render, sigOf = (x) => JSON.stringify(x), morph = false) {
  const old = new Map();
  for (const node of [...container.children]) {
    if (node.dataset.key !== undefined) old.set(node.dataset.key, node);
    else node.remove();
  }
  let prev = null;
  const keep = new Set();
  for (const item of items) {
    const key = String(keyOf(item));
    const sig = sigOf(item);
    let node = old.get(key);
    if (!node || node.sig !== sig) {
      const fresh = render(item);
      fresh.dataset.key = key;
      fresh.sig = sig;
      if (node && morph && node.tagName === fresh.tagName && node.children.length === fresh.children.length) {
        for (const a of [...node.attributes]) if (!fresh.hasAttribute(a.name)) node.removeAttribute(a.name);
        for (const a of [...fresh.attributes]) if (node.getAttribute(a.name) !== a.value) node.setAttribute(a.name, a.value);
        node.sig = sig;
        const was = [...node.children];
        const now = [...fresh.children];
        was.forEach((child, i) => { if (!child.isEqualNode(now[i])) child.replaceWith(now[i]); });
      } else {
        if (node) node.replaceWith(fresh);
        node = fresh;
      }
    }
    keep.add(key);
    const want = prev ? prev.nextSibling : container.firstChild;
    if (want !== node) container.insertBefore(node, want);
    prev = node;
  }
  for (const [key, node] of old) if (!keep.has(key)) node.remove();
}

/* ----------------------------------------------------------- formatting */

const nf = new Intl.NumberFormat('en-US');
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const num = (v) => (v === null || v === undefined || v === '' ? '–' : isNum(v) ? nf.format(v) : String(v));
const plural = (n, one, many = `${one}s`) => `${nf.format(Number(n))} ${Number(n) === 1 ? one : many}`;

function rate(v) {
  if (!isNum(v)) return '–';
  if (v === 0) return '0/s';
  if (v >= 100) return `${nf.format(Math.round(v))}/s`;
  if (v >= 10) return `${v.toFixed(1)}/s`;
  if (v >= 0.01) return `${v.toFixed(2)}/s`;
  return '<0.01/s';
}

function age(s) {
  if (!isNum(s)) return '–';
  if (s < 1) return '<1 s';
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${t % 60} s`;
  if (t < 86400) return `${Math.floor(t / 3600)} h ${Math.floor((t % 3600) / 60)} min`;
  return `${Math.floor(t / 86400)} d ${Math.floor((t % 86400) / 3600)} h`;
}

function bytes(n) {
  if (!isNum(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

const clock = (d) => `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;

function compact(v) {
  if (!isNum(v)) return '';
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(2));
}

function json(v) {
  if (v === undefined) return '';
  return JSON.stringify(v, null, 2);
}

const shortText = (s, n = 80) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function asText(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const queueHref = (name) => `#/queue/${encodeURIComponent(name)}`;
const streamHref = (name) => `#/stream/${encodeURIComponent(name)}`;

/* ------------------------------------------------------------------ API */

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function errorText(body, r) {
  if (!body || typeof body.error !== 'string') return `the console answered ${r.status} ${r.statusText}`.trim();
  let s = body.error;
  if (body.detail) s += ` — ${body.detail}`;
  if (body.hint) s += ` (hint: ${body.hint})`;
  if (body.sqlstate) s += ` [SQLSTATE ${body.sqlstate}]`;
  return s;
}

async function api(path, { method = 'GET', body, retried = false } = {}) {
  const init = { method, headers: { Accept: 'application/json' }, cache: 'no-store', credentials: 'same-origin' };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    init.headers['X-CSRF-Token'] = app.session ? app.session.csrf : '';
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`the console does not answer (${e.message})`, 0, null);
  }
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    // The console restarted: a new CSRF token, then the action once more.
    if (r.status === 403 && method !== 'GET' && !retried && data && /CSRF/.test(data.error || '')) {
      app.session = await api('/api/session');
      return api(path, { method, body, retried: true });
    }
    throw new ApiError(errorText(data, r), r.status, data);
  }
  return data;
}

/* --------------------------------------------------------------- banner */

function showError(message, source = 'action') {
  const banner = $('[data-testid="error-banner"]');
  $('[data-testid="error-text"]').textContent = message;
  banner.hidden = false;
  app.errorSource = source;
}

function clearError(source) {
  if (source && app.errorSource !== source) return;
  $('[data-testid="error-banner"]').hidden = true;
  app.errorSource = null;
}

function markRefreshed() {
  const el = $('[data-testid="last-refresh"]');
  el.textContent = `updated ${clock(new Date())}`;
  el.classList.remove('stale');
}

const readOnly = () => !app.session || app.session.read_only;

/* ------------------------------------------------------------ sparkline */

function sparkline(values, { label = '', unit = '/s', width = 60, height = 18 } = {}) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('aria-hidden', 'true');
  const vals = Array.isArray(values) ? values : [];
  const known = vals.filter(isNum);
  const max = known.length ? Math.max(...known) : 0;
  const title = document.createElementNS(SVG, 'title');
  title.textContent = known.length
    ? `${label} over the last hour, per minute: peak ${rate(max).replace('/s', unit)}`
    : `${label}: no samples yet`;
  svg.append(title);
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(width));
  base.setAttribute('y1', String(height - 0.5));
  base.setAttribute('y2', String(height - 0.5));
  base.setAttribute('class', 'spark-base');
  svg.append(base);
  const n = vals.length;
  if (n === 0) return svg;
  const step = n > 1 ? width / (n - 1) : width;
  const y = (v) => (max > 0 ? (height - 1.5) - (v / max) * (height - 3) : height - 1.5);
  let seg = [];
  const flush = () => {
    if (seg.length === 1) seg.push([seg[0][0] + 1.5, seg[0][1]]);
    if (seg.length > 1) {
      const pl = document.createElementNS(SVG, 'polyline');
      pl.setAttribute('points', seg.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' '));
      pl.setAttribute('class', 'spark-line');
      svg.append(pl);
    }
    seg = [];
  };
  vals.forEach((v, i) => {
    if (isNum(v)) seg.push([i * step, y(v)]);
    else flush();
  });
  flush();
  return svg;
}

function rateCell(testid, value, spark, label, cls = '') {
  return h('td', { class: `num rate ${cls}`.trim(), testid },
    h('span', { class: 'rate-val', text: rate(value) }), sparkline(spark, { label }));
}

/* --------------------------------------------------------------- charts */

const COLORS = ['#2563eb', '#d97706', '#16a34a', '#9333ea', '#dc2626', '#0891b2', '#db2777', '#65a30d'];

class TimeChart {
  constructor(parent, { title, series, format = compact, testid, height = 190 }) {
    this.series = series;
    this.format = format;
    this.height = height;
    this.plot = null;
    this.plotEl = h('div', { class: 'chart-plot' });
    this.empty = h('div', { class: 'chart-empty', text: 'Collecting samples…' });
    this.box = h('div', { class: 'chart', testid }, h('div', { class: 'chart-title', text: title }), this.plotEl, this.empty);
    parent.append(this.box);
  }

  setData(data) {
    this.empty.hidden = data[0].length >= 2;
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    const fmt = this.format;
    const width = Math.max(240, this.plotEl.clientWidth || 480);
    const opts = {
      width,
      height: this.height,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [0, isNum(max) && max > 0 ? max * 1.1 : 1] },
      },
      legend: { live: true },
      axes: [
        {
          stroke: '#5b6472', grid: { stroke: '#eceef1', width: 1 }, ticks: { stroke: '#d5d9df', width: 1 }, space: 64,
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
          values: (u, splits) => {
            const span = u.scales.x.max - u.scales.x.min;
            return splits.map((t) => (span > 900 ? clock(new Date(t * 1000)).slice(0, 5) : clock(new Date(t * 1000))));
          },
        },
        {
          stroke: '#5b6472', size: 48, grid: { stroke: '#eceef1', width: 1 }, ticks: { stroke: '#d5d9df', width: 1 },
          values: (u, splits) => splits.map((v) => fmt(v)),
        },
      ],
      series: [
        { value: (u, v) => (v === null || v === undefined ? '–' : clock(new Date(v * 1000))) },
        ...this.series.map((s, i) => ({
          label: s.label,
          stroke: s.color || COLORS[i % COLORS.length],
          width: 1.5,
          points: { show: false },
          spanGaps: false,
          value: (u, v) => (v === null || v === undefined ? '–' : fmt(v)),
        })),
      ],
    };
    this.plot = new uPlot(opts, data, this.plotEl);
    this.resize = new ResizeObserver(() => {
      const w = this.plotEl.clientWidth;
      if (this.plot && w > 0 && Math.abs(w - this.plot.width) > 2) this.plot.setSize({ width: w, height: this.height });
    });
    this.resize.observe(this.plotEl);
  }

  destroy() {
    if (this.resize) this.resize.disconnect();
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.box.remove();
  }
}

// [[t, a, b, ...], ...] to uPlot's columns [[t...], [a...], [b...]].
function columns(rows, n) {
  const out = Array.from({ length: n }, () => []);
  for (const r of rows) for (let i = 0; i < n; i++) out[i].push(r[i] === undefined ? null : r[i]);
  return out;
}

/* ------------------------------------------------------------- widgets */

function figure(label, testid) {
  const value = h('div', { class: 'fig-value', text: '–' });
  const el = h('div', { class: 'fig', testid }, value, h('div', { class: 'fig-label', text: label }));
  return { el, set(text, warn = false) { value.textContent = text; el.classList.toggle('warn', warn); } };
}

function table(testid, headings, cls = '') {
  const tbody = h('tbody');
  const el = h('table', { class: `grid ${cls}`.trim(), testid },
    h('thead', null, h('tr', null, headings.map((x) => (Array.isArray(x)
      ? h('th', { class: x[1], text: x[0], title: x[2] })
      : h('th', { text: x }))))),
    tbody);
  return { el, tbody };
}

function emptyRow(cols, text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: cols, text }));
}

function section(title, testid, ...children) {
  const count = h('span', { class: 'count' });
  const el = h('section', { class: 'panel', testid }, h('h2', null, title, count), ...children);
  return { el, count };
}

function optionsTable(testid, entries) {
  const dl = h('dl', { class: 'options', testid });
  for (const [k, v, title] of entries) {
    dl.append(h('dt', { text: k.replace(/_/g, ' ') }), h('dd', { text: v, title, 'data-option': k }));
  }
  return dl;
}

function resultLine(testid = 'result') {
  return h('div', { class: 'result', testid, role: 'status', 'aria-live': 'polite' });
}

function setResult(el, text, ok = true) {
  el.textContent = text;
  el.classList.toggle('bad', !ok);
  el.classList.toggle('shown', Boolean(text));
}

/* ------------------------------------------------------------- overview */

class OverviewView {
  mount(root) {
    this.summary = h('ul', { class: 'problem-list', testid: 'problems-summary' });
    this.problems = section('Problems', 'problems', this.summary);
    const queueHead = [['Queue'], ['Depth', 'num'], ['Ready', 'num'], ['In flight', 'num'], ['Delayed', 'num'],
      ['Oldest ready', 'num', 'age of the oldest ready message'], ['Dead-letter queue'],
      ['Sent', 'num rate', 'messages sent per second; the line is the last hour'],
      ['Acked', 'num rate', 'messages acknowledged per second; the line is the last hour'],
      ['Dead-lettered', 'num rate', 'messages dead-lettered per second; the line is the last hour'],
      ['Problems']];
    this.queues = table('queues-table', queueHead);
    this.queuesPanel = section('Queues', 'queues', h('div', { class: 'scroll' }, this.queues.el));
    this.topics = table('topics-table', ['Topic', 'Subscriptions (queue ← pattern)']);
    this.topicsPanel = section('Topics', 'topics', h('div', { class: 'scroll' }, this.topics.el));
    this.streams = table('streams-table', [['Stream'], ['Partitions', 'num'], ['Records', 'num'], ['Size', 'num'],
      ['Appended', 'num rate', 'records appended per second; the line is the last hour'],
      ['Consumer groups (lag)'], ['Problems']]);
    this.streamsPanel = section('Streams', 'streams', h('div', { class: 'scroll' }, this.streams.el));
    root.append(this.problems.el, this.queuesPanel.el, this.streamsPanel.el, this.topicsPanel.el);
  }

  async refresh() {
    const o = await api('/api/overview');
    if (this.dead) return;
    app.queueNames = o.queues.map((q) => q.name);
    this.render(o);
  }

  render(o) {
    const problems = [];
    for (const q of o.queues) for (const p of q.problems) problems.push({ kind: 'queue', name: q.name, text: p });
    for (const s of o.streams) for (const p of s.problems) problems.push({ kind: 'stream', name: s.name, text: p });
    this.problems.el.classList.toggle('has-problems', problems.length > 0);
    this.problems.count.textContent = problems.length ? ` ${problems.length}` : '';
    if (problems.length === 0) {
      patch(this.summary, [{ none: true }], () => 'none', () => h('li', { class: 'ok', testid: 'no-problems', text: 'No problems' }));
    } else {
      patch(this.summary, problems, (p) => `${p.kind}:${p.name}:${p.text}`, (p) => h('li', { class: 'problem', testid: 'problem-item' },
        h('span', { class: 'kind', text: p.kind }), ' ',
        h('a', { href: p.kind === 'queue' ? queueHref(p.name) : streamHref(p.name), text: p.name }), ': ',
        h('span', { text: p.text })));
    }

    this.queuesPanel.count.textContent = ` ${o.queues.length}`;
    if (o.queues.length === 0) patch(this.queues.tbody, [0], () => 'empty', () => emptyRow(11, 'No queues (or none this role may see).'));
    else patch(this.queues.tbody, o.queues, (q) => `q:${q.name}`, (q) => this.queueRow(q), undefined, true);

    this.topicsPanel.count.textContent = ` ${o.topics.length}`;
    if (o.topics.length === 0) patch(this.topics.tbody, [0], () => 'empty', () => emptyRow(2, 'No topics.'));
    else patch(this.topics.tbody, o.topics, (t) => `t:${t.name}`, (t) => this.topicRow(t), undefined, true);

    this.streamsPanel.count.textContent = ` ${o.streams.length}`;
    if (o.streams.length === 0) patch(this.streams.tbody, [0], () => 'empty', () => emptyRow(7, 'No streams.'));
    else patch(this.streams.tbody, o.streams, (s) => `s:${s.name}`, (s) => this.streamRow(s), undefined, true);
  }

  queueRow(q) {
    const warn = q.problems.length > 0;
    return h('tr', { class: warn ? 'problem' : null, testid: `queue-row-${q.name}` },
      h('td', { class: 'name', testid: 'name' },
        h('a', { href: queueHref(q.name), text: q.name }),
        q.is_dead_letter_queue ? h('span', { class: 'tag', text: 'DLQ', title: 'a dead-letter queue' }) : null),
      h('td', { class: 'num strong', testid: 'depth', text: num(q.depth) }),
      h('td', { class: 'num', testid: 'ready', text: num(q.ready) }),
      h('td', { class: 'num', testid: 'inflight', text: num(q.inflight) }),
      h('td', { class: 'num', testid: 'delayed', text: num(q.delayed) }),
      h('td', { class: 'num', testid: 'oldest-ready', text: age(q.oldest_ready_age) }),
      h('td', { testid: 'dead-letter' }, q.dead_letter_queue
        ? [h('a', { href: queueHref(q.dead_letter_queue), text: q.dead_letter_queue }), ' ',
          h('span', { class: q.dead_letter_depth > 0 ? 'pill bad' : 'pill', text: num(q.dead_letter_depth) })]
        : h('span', { class: 'muted', text: '–' })),
      rateCell('rate-sent', q.rates.sent, q.spark.sent, 'sent'),
      rateCell('rate-acked', q.rates.acked, q.spark.acked, 'acked'),
      rateCell('rate-dead-lettered', q.rates.dead_lettered, q.spark.dead_lettered, 'dead-lettered',
        q.rates.dead_lettered > 0 ? 'bad' : ''),
      h('td', { class: 'problems', testid: 'problems' }, warn
        ? q.problems.map((p) => h('div', { class: 'problem-text', text: p }))
        : h('span', { class: 'muted', text: 'ok' })));
  }

  topicRow(t) {
    return h('tr', { testid: `topic-row-${t.name}` },
      h('td', { class: 'name', testid: 'name', text: t.name }),
      h('td', { testid: 'subscriptions' }, t.subscriptions.length === 0
        ? h('span', { class: 'muted', text: 'no subscriptions' })
        : t.subscriptions.map((s) => h('span', { class: 'sub' },
          h('a', { href: queueHref(s.queue), text: s.queue }), ' ← ', h('code', { text: s.pattern })))));
  }

  streamRow(s) {
    const warn = s.problems.length > 0;
    return h('tr', { class: warn ? 'problem' : null, testid: `stream-row-${s.name}` },
      h('td', { class: 'name', testid: 'name' }, h('a', { href: streamHref(s.name), text: s.name })),
      h('td', { class: 'num', testid: 'partitions', text: num(s.partitions.length) }),
      h('td', { class: 'num', testid: 'records', text: num(s.records) }),
      h('td', { class: 'num', testid: 'bytes', text: bytes(s.bytes) }),
      rateCell('rate-appended', s.rates.appended, s.spark.appended, 'appended'),
      h('td', { testid: 'groups' }, s.groups.length === 0 ? h('span', { class: 'muted', text: 'no groups' })
        : s.groups.map((g) => h('span', { class: g.lag_growing ? 'sub growing' : 'sub', testid: `group-${g.name}`,
          title: g.lag_growing ? 'lag growing over the last minute' : null },
        g.name, ' ', h('span', { class: g.lag > 0 ? 'pill' : 'pill zero', text: num(g.lag) }),
        g.lag_growing ? h('span', { class: 'up', text: ' ▲ growing' }) : null))),
      h('td', { class: 'problems', testid: 'problems' }, warn
        ? s.problems.map((p) => h('div', { class: 'problem-text', text: p }))
        : h('span', { class: 'muted', text: 'ok' })));
  }

  destroy() {
    this.dead = true;
  }
}

/* ---------------------------------------------------------------- queue */

const STATES = [['all', 'All'], ['ready', 'Ready'], ['inflight', 'In flight'], ['delayed', 'Delayed']];
const HIDDEN_OPTIONS = new Set(['oldest_ready_age', 'oldest_age', 'newest_age']);

function optionValue(k, v) {
  if (v === null || v === undefined) return ['–'];
  if (typeof v === 'boolean') return [v ? 'yes' : 'no'];
  if (k.endsWith('_at')) return [time(v), String(v)];
  if (typeof v === 'object') return [JSON.stringify(v)];
  return [String(v)];
}

class QueueView {
  constructor(name) {
    this.name = name;
    this.path = `/api/queues/${encodeURIComponent(name)}`;
    this.filter = 'all';
    this.after = null;
    this.pages = [];
    this.qty = 50;
    this.messages = [];
    this.next = null;
    this.selected = new Set();
    this.expanded = new Set();
    this.details = null;
    this.busy = false;
  }

  mount(root) {
    this.title = h('div', { class: 'title-sub' });
    const head = h('div', { class: 'title' }, h('h1', null, h('span', { class: 'kind', text: 'queue' }), ' ',
      h('span', { testid: 'queue-name', text: this.name })), this.title);
    this.figs = {
      depth: figure('depth', 'fig-depth'), ready: figure('ready', 'fig-ready'), inflight: figure('in flight', 'fig-inflight'),
      delayed: figure('delayed', 'fig-delayed'), age: figure('oldest ready', 'fig-oldest-ready'),
      sent: figure('sent', 'fig-rate-sent'), acked: figure('acked', 'fig-rate-acked'),
      dead: figure('dead-lettered', 'fig-rate-dead-lettered'),
    };
    this.problemsEl = h('div', { class: 'problem-box', testid: 'queue-problems', hidden: true });
    const figs = h('div', { class: 'figures' }, Object.values(this.figs).map((f) => f.el));
    const charts = h('div', { class: 'charts' });
    this.depthChart = new TimeChart(charts, { title: 'Messages', testid: 'chart-depth', series: [
      { label: 'depth', color: '#334155' }, { label: 'ready', color: '#2563eb' },
      { label: 'in flight', color: '#d97706' }, { label: 'delayed', color: '#9333ea' }] });
    this.rateChart = new TimeChart(charts, { title: 'Rates (messages per second)', testid: 'chart-rates', series: [
      { label: 'sent', color: '#2563eb' }, { label: 'acked', color: '#16a34a' },
      { label: 'dead-lettered', color: '#dc2626' }] });

    root.append(head, this.problemsEl, figs, charts, this.messagesPanel());
    this.optionsBox = h('div');
    this.groupsTable = table('groups-table', [['Group'], ['Ready', 'num'], ['In flight', 'num'], ['Delayed', 'num'], ['Oldest', 'num']]);
    this.groupsPanel = section('Message groups', 'message-groups', h('div', { class: 'scroll' }, this.groupsTable.el));
    this.groupsPanel.el.hidden = true;
    root.append(h('div', { class: 'cols' },
      section('Options', 'queue-options', this.optionsBox).el, this.groupsPanel.el));
  }

  messagesPanel() {
    const ro = readOnly();
    this.filterBtns = STATES.map(([s, label]) => h('button', { type: 'button', class: s === this.filter ? 'seg on' : 'seg',
      testid: `filter-${s}`, 'aria-pressed': String(s === this.filter), text: label, onclick: () => this.setFilter(s) }));
    this.qtySel = h('select', { testid: 'page-size', title: 'messages per page',
      onchange: () => { this.qty = Number(this.qtySel.value); this.firstPage(); } },
    [20, 50, 100, 500].map((n) => h('option', { value: String(n), selected: n === this.qty, text: `${n} per page` })));
    this.firstBtn = h('button', { type: 'button', testid: 'page-first', text: '⇤ First page', onclick: () => this.firstPage() });
    this.nextBtn = h('button', { type: 'button', testid: 'page-next', text: 'Next page →', onclick: () => this.nextPage() });
    this.pageInfo = h('span', { class: 'muted', testid: 'page-info' });

    this.selectAll = h('input', { type: 'checkbox', testid: 'select-all', title: 'select every message of this page',
      onchange: () => this.toggleAll(this.selectAll.checked) });
    this.msgCols = ['', 'Id', 'State', 'Priority', 'Deliveries', 'Enqueued at', 'Visible at', 'Lease until', 'Lease pid', 'Group', 'Last error', 'Dead-lettered from'];
    const head = h('tr', null, this.msgCols.map((c, i) => (i === 0 ? h('th', { class: 'check' }, ro ? null : this.selectAll)
      : h('th', { class: ['Id', 'Priority', 'Deliveries', 'Lease pid'].includes(c) ? 'num' : null, text: c }))));
    this.msgTable = h('table', { class: 'grid messages', testid: 'messages-table' }, h('thead', null, head));
    this.msgBodies = h('div');	// not in the document: tbodies are moved into msgTable
    this.result = resultLine();

    const bar = h('div', { class: 'toolbar' }, h('div', { class: 'segs', testid: 'state-filter', role: 'group' }, this.filterBtns),
      this.qtySel, this.firstBtn, this.nextBtn, this.pageInfo);
    const panel = section('Messages', 'messages', bar);
    if (!ro) panel.el.append(this.actionBar());
    panel.el.append(this.result, h('div', { class: 'scroll' }, this.msgTable));
    if (!ro) panel.el.append(this.sendForm());
    this.msgPanel = panel;
    return panel.el;
  }

  actionBar() {
    this.selInfo = h('span', { class: 'sel-info', testid: 'selection-count', text: 'none selected' });
    this.delBtn = h('button', { type: 'button', class: 'danger', testid: 'action-delete', text: 'Delete', onclick: () => this.doDelete() });
    this.moveSel = h('select', { testid: 'move-target', 'aria-label': 'queue to move the selected messages to' });
    this.moveBtn = h('button', { type: 'button', testid: 'action-move', text: 'Move', onclick: () => this.doMove() });
    this.redriveBtn = h('button', { type: 'button', class: 'primary', testid: 'action-redrive-selected', text: 'Redrive selected',
      title: 'send the selected dead letters back to the queues they came from', onclick: () => this.doRedriveSelected() });
    this.sourceSel = h('select', { testid: 'redrive-source', 'aria-label': 'source queue' });
    this.sourceBtn = h('button', { type: 'button', testid: 'action-redrive-source', text: 'Redrive from source',
      title: 'send back every dead letter that came from this queue', onclick: () => this.doRedriveSource() });
    this.redriveAllBtn = h('button', { type: 'button', testid: 'action-redrive-all', text: 'Redrive all',
      onclick: () => this.doRedriveAll() });
    this.purgeBtn = h('button', { type: 'button', class: 'danger', testid: 'action-purge', text: 'Purge…', onclick: () => this.doPurge() });
    this.redriveGroup = h('span', { class: 'group redrive', testid: 'redrive-controls', hidden: true },
      this.redriveBtn, h('span', { class: 'sep' }), this.sourceSel, this.sourceBtn, this.redriveAllBtn);
    return h('div', { class: 'toolbar actions', testid: 'actions' },
      this.selInfo,
      h('span', { class: 'group' }, this.delBtn),
      h('span', { class: 'group' }, h('label', { class: 'muted', text: 'move to' }), this.moveSel, this.moveBtn),
      this.redriveGroup,
      h('span', { class: 'spacer' }),
      this.purgeBtn);
  }

  sendForm() {
    this.sendBody = h('textarea', { testid: 'send-body', rows: 4, spellcheck: 'false', 'aria-label': 'body (JSON)', placeholder: '{"order": 1001}' });
    this.sendHeaders = h('textarea', { testid: 'send-headers', rows: 4, spellcheck: 'false', 'aria-label': 'headers (JSON object, optional)', placeholder: '{"source": "console"}' });
    this.sendDelay = h('input', { type: 'number', min: '0', step: '1', testid: 'send-delay', value: '0', 'aria-label': 'delay in seconds' });
    this.sendPriority = h('input', { type: 'number', step: '1', testid: 'send-priority', value: '0', 'aria-label': 'priority' });
    this.sendError = h('div', { class: 'form-error', testid: 'send-error', role: 'alert' });
    const form = h('form', { class: 'send', testid: 'send-form', onsubmit: (e) => { e.preventDefault(); this.doSend(); } },
      h('div', { class: 'send-fields' },
        h('label', null, h('span', { text: 'Body (JSON)' }), this.sendBody),
        h('label', null, h('span', { text: 'Headers (JSON object, optional)' }), this.sendHeaders)),
      h('div', { class: 'send-side' },
        h('label', null, h('span', { text: 'delay (s)' }), this.sendDelay),
        h('label', null, h('span', { text: 'priority' }), this.sendPriority),
        h('button', { type: 'submit', class: 'primary', testid: 'action-send', text: 'Send' }),
        this.sendError));
    return h('details', { class: 'send-box', testid: 'send' }, h('summary', { text: 'Send a message' }), form);
  }

  // The queue's figures and history; fresh: sampled now (the first view, and
  // after an action), not at the last refresh.
  async refreshDetails(fresh = false) {
    const [d, o] = await Promise.all([api(fresh ? `${this.path}?fresh=1` : this.path), api('/api/overview')]);
    if (this.dead) return;
    app.queueNames = o.queues.map((q) => q.name);
    this.details = d;
    this.renderDetails(d);
  }

  async refresh() {
    await this.refreshDetails(this.details === null);
    if (this.dead) return;
    if (!this.messagesLoaded || (this.after === null && this.selected.size === 0 && this.expanded.size === 0 && !this.busy)) {
      await this.loadMessages();
    }
  }

  // The depth now (for a confirmation), else as last shown.
  async freshDepth() {
    try {
      const o = await api('/api/overview?fresh=1');
      const q = o.queues.find((x) => x.name === this.name);
      if (q) return q.depth;
    } catch {
      // as last shown
    }
    return this.depth();
  }

  renderDetails(d) {
    const c = d.current;
    const opts = d.options || {};
    const dlq = opts.dead_letter_queue || (c && c.dead_letter_queue);
    fill(this.title,
      dlq ? h('span', null, 'dead letters go to ', h('a', { href: queueHref(dlq), testid: 'dead-letter-link', text: dlq }),
        opts.max_deliveries ? ` after ${plural(opts.max_deliveries, 'delivery', 'deliveries')}` : '') : null,
      d.dead_letter_sources.length ? h('span', { testid: 'dead-letter-sources' }, h('span', { class: 'tag', text: 'DLQ' }),
        ' dead-letter queue of ', d.dead_letter_sources.map((s, i) => [i ? ', ' : '', h('a', { href: queueHref(s), text: s })])) : null);

    if (c) {
      this.figs.depth.set(num(c.depth));
      this.figs.ready.set(num(c.ready));
      this.figs.inflight.set(num(c.inflight));
      this.figs.delayed.set(num(c.delayed));
      this.figs.age.set(age(c.oldest_ready_age), c.problems.some((p) => p.startsWith('oldest')));
      this.figs.sent.set(rate(c.rates.sent));
      this.figs.acked.set(rate(c.rates.acked));
      this.figs.dead.set(rate(c.rates.dead_lettered), c.rates.dead_lettered > 0);
      this.problemsEl.hidden = c.problems.length === 0;
      this.problemsEl.replaceChildren(...c.problems.map((p) => h('div', { class: 'problem-text', text: p })));
    }
    const rows = d.series || [];
    this.depthChart.setData(columns(rows.map((r) => [r[0], r[1], r[2], r[3], r[4]]), 5));
    this.rateChart.setData(columns(rows.map((r) => [r[0], r[6], r[7], r[8]]), 4));

    const entries = [];
    for (const [k, v] of Object.entries(opts)) {
      if (HIDDEN_OPTIONS.has(k)) continue;
      const [text, title] = optionValue(k, v);
      entries.push([k, text, title]);
    }
    const sig = JSON.stringify(entries);
    if (sig !== this.optionsSig) {
      this.optionsSig = sig;
      this.optionsBox.replaceChildren(optionsTable('options-table', entries));
    }

    this.groupsPanel.el.hidden = d.message_groups.length === 0;
    this.groupsPanel.count.textContent = d.message_groups.length ? ` ${d.message_groups.length}` : '';
    patch(this.groupsTable.tbody, d.message_groups, (g) => g.group_key ?? '', (g) => h('tr', { testid: `message-group-${g.group_key}` },
      h('td', { class: 'name', text: g.group_key ?? '' }), h('td', { class: 'num', text: num(g.ready) }),
      h('td', { class: 'num', text: num(g.inflight) }), h('td', { class: 'num', text: num(g.delayed) }),
      h('td', { class: 'num', text: age(g.oldest_age) })));

    if (!readOnly()) this.renderActionChoices();
  }

  isDeadLetterQueue() {
    const d = this.details;
    return Boolean((d && (d.dead_letter_sources.length > 0 || (d.current && d.current.is_dead_letter_queue)))
      || this.messages.some((m) => m.dead_letter));
  }

  sources() {
    const set = new Set(this.details ? this.details.dead_letter_sources : []);
    for (const m of this.messages) if (m.dead_letter && typeof m.dead_letter.queue === 'string') set.add(m.dead_letter.queue);
    return [...set].sort();
  }

  renderActionChoices() {
    const fill = (sel, names, placeholder) => {
      const sig = JSON.stringify(names);
      if (sel.sig === sig) return;
      sel.sig = sig;
      const keep = sel.value;
      sel.replaceChildren(h('option', { value: '', text: placeholder }), ...names.map((n) => h('option', { value: n, text: n })));
      if (names.includes(keep)) sel.value = keep;
    };
    fill(this.moveSel, app.queueNames.filter((n) => n !== this.name), 'choose a queue…');
    const srcs = this.sources();
    fill(this.sourceSel, srcs, 'source queue…');
    if (srcs.length === 1 && !this.sourceSel.value) this.sourceSel.value = srcs[0];
    this.redriveGroup.hidden = !this.isDeadLetterQueue();
    this.updateSelection();
  }

  async loadMessages() {
    const token = {};
    this.loading = token;
    const q = new URLSearchParams({ state: this.filter, qty: String(this.qty) });
    if (this.after !== null) q.set('after_id', this.after);
    const r = await api(`${this.path}/messages?${q}`);
    if (this.dead || this.loading !== token) return;
    this.messagesLoaded = true;
    this.messages = r.messages;
    this.next = r.next_after_id;
    const ids = new Set(r.messages.map((m) => m.id));
    for (const id of [...this.selected]) if (!ids.has(id)) this.selected.delete(id);
    for (const id of [...this.expanded]) if (!ids.has(id)) this.expanded.delete(id);
    this.renderMessages();
  }

  renderMessages() {
    const dlq = this.isDeadLetterQueue();
    this.msgTable.classList.toggle('show-dl', dlq);
    const items = this.messages.length ? this.messages : [null];
    const tbodies = [...this.msgTable.tBodies];
    for (const b of tbodies) this.msgBodies.append(b);
    const emptyText = this.after !== null ? 'No more messages.'
      : this.filter === 'all' ? 'This queue is empty.'
        : `No ${this.filter === 'inflight' ? 'in-flight' : this.filter} messages.`;
    patch(this.msgBodies, items, (m) => (m ? m.id : 'empty'),
      (m) => (m ? this.messageBody(m) : h('tbody', null, emptyRow(this.msgCols.length, emptyText))),
      (m) => JSON.stringify(m ? [m, this.selected.has(m.id), this.expanded.has(m.id)] : emptyText));
    this.msgTable.append(...this.msgBodies.children);
    const first = this.after === null;
    this.firstBtn.disabled = first;
    this.nextBtn.disabled = this.next === null;
    this.pageInfo.textContent = this.messages.length === 0 ? '' : `${first ? 'first page' : `page ${this.pages.length + 1}`}: `
      + `ids ${this.messages[0].id}–${this.messages[this.messages.length - 1].id}`;
    this.msgPanel.count.textContent = this.details && this.details.current ? ` ${num(this.details.current.depth)}` : '';
    if (!readOnly()) this.renderActionChoices();
  }

  messageBody(m) {
    const ro = readOnly();
    const sel = this.selected.has(m.id);
    const check = ro ? null : h('input', { type: 'checkbox', testid: 'message-select', checked: sel,
      'aria-label': `select message ${m.id}`,
      onchange: (e) => { if (e.target.checked) this.selected.add(m.id); else this.selected.delete(m.id); this.updateSelection(); } });
    const err = asText(m.last_error);
    const dl = m.dead_letter;
    const dlText = dl ? [typeof dl.queue === 'string' ? dl.queue : '', dl.reason ? asText(dl.reason) : ''].filter(Boolean).join(': ') : '';
    const row = h('tr', { class: `msg${sel ? ' selected' : ''}`, testid: `message-row-${m.id}`, tabindex: '0',
      'aria-expanded': String(this.expanded.has(m.id)),
      onclick: (e) => { if (!e.target.closest('input, a, button, label')) this.toggleExpand(m.id); },
      onkeydown: (e) => { if ((e.key === 'Enter' || e.key === ' ') && e.target === e.currentTarget) { e.preventDefault(); this.toggleExpand(m.id); } } },
    h('td', { class: 'check', onclick: (e) => e.stopPropagation() }, check),
    h('td', { class: 'num mono', testid: 'id', text: m.id }),
    h('td', { testid: 'state' }, h('span', { class: `state st-${m.state}`, text: m.state === 'inflight' ? 'in flight' : m.state })),
    h('td', { class: 'num', testid: 'priority', text: num(m.priority) }),
    h('td', { class: 'num', testid: 'deliveries', text: num(m.deliveries) }),
    h('td', { class: 'time', testid: 'enqueued-at', text: time(m.enqueued_at), title: m.enqueued_at }),
    h('td', { class: 'time', testid: 'visible-at', text: time(m.visible_at), title: m.visible_at }),
    h('td', { class: 'time', testid: 'lease-until', text: time(m.lease_until), title: m.lease_until }),
    h('td', { class: 'num', testid: 'lease-pid', text: m.lease_pid ?? '' }),
    h('td', { testid: 'group', text: m.group_key ?? '' }),
    h('td', { class: 'err', testid: 'last-error', text: shortText(err, 60), title: err || null }),
    h('td', { class: 'dl', testid: 'dead-letter', text: shortText(dlText, 60), title: dlText || null }));
    const body = h('tbody', { class: 'msg-group', testid: `message-${m.id}` }, row);
    if (this.expanded.has(m.id)) body.append(this.detailRow(m));
    return body;
  }

  detailRow(m) {
    const pre = (label, v, testid) => h('div', { class: 'pre-box' }, h('div', { class: 'pre-label', text: label }),
      h('pre', { testid, text: json(v) }));
    return h('tr', { class: 'detail', testid: `message-detail-${m.id}` }, h('td', { colspan: this.msgCols.length },
      h('div', { class: 'detail-grid' },
        pre('Body', m.body, 'message-body'),
        pre('Headers', m.headers, 'message-headers'),
        m.dead_letter ? pre('Dead letter', m.dead_letter, 'message-dead-letter') : null)));
  }

  toggleExpand(id) {
    const m = this.messages.find((x) => x.id === id);
    const tb = [...this.msgTable.tBodies].find((b) => b.dataset.key === id);
    if (!m || !tb) return;
    const row = tb.rows[0];
    if (this.expanded.has(id)) {
      this.expanded.delete(id);
      if (tb.rows[1]) tb.rows[1].remove();
    } else {
      this.expanded.add(id);
      tb.append(this.detailRow(m));
    }
    row.setAttribute('aria-expanded', String(this.expanded.has(id)));
    row.classList.toggle('open', this.expanded.has(id));
  }

  toggleAll(on) {
    for (const m of this.messages) if (on) this.selected.add(m.id); else this.selected.delete(m.id);
    for (const tb of this.msgTable.tBodies) {
      const box = tb.querySelector('input[type=checkbox]');
      if (box) box.checked = on;
    }
    this.updateSelection();
  }

  updateSelection() {
    if (readOnly() || !this.selInfo) return;
    const n = this.selected.size;
    this.selInfo.textContent = n ? `${n} selected` : 'none selected';
    this.selInfo.classList.toggle('some', n > 0);
    this.delBtn.disabled = n === 0;
    this.moveBtn.disabled = n === 0;
    this.redriveBtn.disabled = n === 0;
    this.sourceBtn.disabled = this.sourceSel.options.length <= 1;
    this.selectAll.checked = n > 0 && this.messages.length > 0 && this.messages.every((m) => this.selected.has(m.id));
    this.selectAll.indeterminate = n > 0 && !this.selectAll.checked;
    for (const tb of this.msgTable.tBodies) {
      if (tb.rows[0] && tb.dataset.key) tb.rows[0].classList.toggle('selected', this.selected.has(tb.dataset.key));
    }
  }

  setFilter(s) {
    this.filter = s;
    for (const b of this.filterBtns) {
      const on = b.dataset.testid === `filter-${s}`;
      b.classList.toggle('on', on);
      b.setAttribute('aria-pressed', String(on));
    }
    this.firstPage();
  }

  firstPage() {
    this.after = null;
    this.pages = [];
    this.selected.clear();
    this.expanded.clear();
    this.reload();
  }

  nextPage() {
    if (this.next === null) return;
    this.pages.push(this.after);
    this.after = this.next;
    this.selected.clear();
    this.expanded.clear();
    this.reload();
  }

  async reload() {
    try {
      await this.loadMessages();
      if (this.after !== null && this.messages.length === 0) {
        this.after = null;
        this.pages = [];
        await this.loadMessages();
      }
    } catch (e) {
      showError(e.message, 'action');
    }
  }

  depth() {
    const c = this.details && this.details.current;
    return c ? c.depth : null;
  }

  async act(kind, body, question, done) {
    if (!window.confirm(question)) return;
    this.busy = true;
    setResult(this.result, `${kind}…`);
    try {
      const r = await api(`${this.path}/${kind}`, { method: 'POST', body });
      if (this.dead) return;
      clearError('action');
      setResult(this.result, done(r));
      this.selected.clear();
      this.expanded.clear();
      await this.reload();
      await this.refreshDetails(true);
    } catch (e) {
      setResult(this.result, '');
      showError(e.message, 'action');
    } finally {
      this.busy = false;
    }
  }

  selectedIds() {
    return this.messages.map((m) => m.id).filter((id) => this.selected.has(id));
  }

  doDelete() {
    const ids = this.selectedIds();
    if (!ids.length) return;
    this.act('delete', { ids }, `Delete ${plural(ids.length, 'message')} from ${this.name}?`,
      (r) => `Deleted ${plural(r.count, 'message')}`);
  }

  doMove() {
    const ids = this.selectedIds();
    const to = this.moveSel.value;
    if (!ids.length) return;
    if (!to) {
      setResult(this.result, 'Choose the queue to move the messages to.', false);
      this.moveSel.focus();
      return;
    }
    this.act('move', { ids, to_queue: to }, `Move ${plural(ids.length, 'message')} from ${this.name} to ${to}?`,
      (r) => `Moved ${plural(r.count, 'message')} to ${to}`);
  }

  doRedriveSelected() {
    const ids = this.selectedIds();
    if (!ids.length) return;
    this.act('redrive', { ids }, `Redrive ${plural(ids.length, 'message')} from ${this.name} to the queues they came from?`,
      (r) => `Redriven ${plural(r.count, 'message')}`);
  }

  async doRedriveSource() {
    const src = this.sourceSel.value;
    if (!src) {
      setResult(this.result, 'Choose the source queue whose dead letters to redrive.', false);
      this.sourceSel.focus();
      return;
    }
    const n = await this.readyLetters(src);
    if (n === undefined) return;
    this.act('redrive', { source_queue: src }, `Redrive ${n} dead-lettered from ${src} in ${this.name} back to ${src}?`,
      (r) => `Redriven ${plural(r.count, 'message')} to ${src}`);
  }

  async doRedriveAll() {
    const n = await this.readyLetters(null);
    if (n === undefined) return;
    this.act('redrive', {}, `Redrive all ${n} of ${this.name} to the queues they came from?`,
      (r) => `Redriven ${plural(r.count, 'message')}`);
  }

  // How many ready letters a redrive would move (of one source queue, or
  // all), as words: "3 messages", "at least 10000 messages".
  async readyLetters(src) {
    let d;
    try {
      d = await api(`${this.path}/dead-letters`);
    } catch (e) {
      showError(e.message);
      return undefined;
    }
    const n = src === null ? d.ready : (d.sources.find((x) => x.queue === src) || { ready: 0 }).ready;
    return `${d.complete ? '' : 'at least '}${plural(n, 'ready message')}`;
  }

  async doPurge() {
    const depth = await this.freshDepth();
    this.act('purge', {}, `Purge ${this.name}: delete all ${depth === null ? 'its messages' : plural(depth, 'message')}? This cannot be undone.`,
      (r) => `Purged ${plural(r.count, 'message')}`);
  }

  async doSend() {
    this.sendError.textContent = '';
    let body;
    let headers;
    const text = this.sendBody.value.trim();
    if (text === '') {
      this.sendError.textContent = 'The body is empty: write a JSON value (an object, a string in quotes, a number…).';
      return;
    }
    try {
      body = JSON.parse(text);
    } catch (e) {
      this.sendError.textContent = `The body is not valid JSON: ${e.message}`;
      return;
    }
    const htext = this.sendHeaders.value.trim();
    if (htext !== '') {
      try {
        headers = JSON.parse(htext);
      } catch (e) {
        this.sendError.textContent = `The headers are not valid JSON: ${e.message}`;
        return;
      }
      if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
        this.sendError.textContent = 'The headers must be a JSON object.';
        return;
      }
    }
    const payload = { body };
    if (headers) payload.headers = headers;
    const delay = this.sendDelay.value.trim();
    const priority = this.sendPriority.value.trim();
    if (delay !== '' && delay !== '0') payload.delay_seconds = delay;
    if (priority !== '' && priority !== '0') payload.priority = priority;
    try {
      const r = await api(`${this.path}/send`, { method: 'POST', body: payload });
      if (this.dead) return;
      clearError('action');
      setResult(this.result, `Sent message ${r.id}`);
      if (this.after === null) await this.reload();
    } catch (e) {
      this.sendError.textContent = e.message;
    }
  }

  destroy() {
    this.dead = true;
    this.depthChart.destroy();
    this.rateChart.destroy();
  }
}

/* --------------------------------------------------------------- stream */

function isoFromLocal(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

class StreamView {
  constructor(name) {
    this.name = name;
    this.path = `/api/streams/${encodeURIComponent(name)}`;
    this.groups = new Map();
  }

  mount(root) {
    root.append(h('div', { class: 'title' }, h('h1', null, h('span', { class: 'kind', text: 'stream' }), ' ',
      h('span', { testid: 'stream-name', text: this.name }))));
    this.figs = {
      partitions: figure('partitions', 'fig-partitions'), records: figure('records', 'fig-records'),
      bytes: figure('size', 'fig-bytes'), rate: figure('appended', 'fig-rate-appended'),
      appended: figure('appended in all', 'fig-appended'), consumed: figure('consumed in all', 'fig-consumed'),
    };
    this.problemsEl = h('div', { class: 'problem-box', testid: 'stream-problems', hidden: true });
    this.parts = table('partitions-table', [['Partition', 'num'], ['First position', 'num'], ['Next position', 'num'],
      ['Records', 'num'], ['Size', 'num']]);
    this.optionsBox = h('div');
    this.groupsBox = h('div', { class: 'groups', testid: 'groups' });
    this.groupsPanel = section('Consumer groups', 'consumer-groups', this.groupsBox);
    root.append(this.problemsEl, h('div', { class: 'figures' }, Object.values(this.figs).map((f) => f.el)),
      h('div', { class: 'cols' }, section('Partitions', 'partitions', h('div', { class: 'scroll' }, this.parts.el)).el,
        section('Options', 'stream-options', this.optionsBox).el),
      this.groupsPanel.el);
  }

  // The first view samples now; later ones take the console's last sample
  // (a seek samples too).
  async refresh() {
    const d = await api(this.shown ? this.path : `${this.path}?fresh=1`);
    if (this.dead) return;
    this.shown = true;
    this.render(d);
  }

  render(d) {
    const c = d.current;
    if (c) {
      this.figs.partitions.set(num(c.partitions.length));
      this.figs.records.set(num(c.records));
      this.figs.bytes.set(bytes(c.bytes));
      this.figs.rate.set(rate(c.rates.appended));
      this.figs.appended.set(num(c.counters.appended));
      this.figs.consumed.set(num(c.counters.consumed));
      this.problemsEl.hidden = c.problems.length === 0;
      this.problemsEl.replaceChildren(...c.problems.map((p) => h('div', { class: 'problem-text', text: p })));
      patch(this.parts.tbody, c.partitions, (p) => p.partition, (p) => h('tr', { testid: `partition-row-${p.partition}` },
        h('td', { class: 'num', testid: 'partition', text: p.partition }),
        h('td', { class: 'num', testid: 'first-position', text: num(p.first_position) }),
        h('td', { class: 'num', testid: 'next-position', text: num(p.next_position) }),
        h('td', { class: 'num', testid: 'records', text: num(p.records) }),
        h('td', { class: 'num', testid: 'bytes', text: bytes(p.bytes) })));
    }
    const o = d.options || {};
    const entries = Object.entries(o).map(([k, v]) => [k, ...optionValue(k, v)]);
    const sig = JSON.stringify(entries);
    if (sig !== this.optionsSig) {
      this.optionsSig = sig;
      this.optionsBox.replaceChildren(optionsTable('options-table', entries));
    }

    const groups = c ? c.groups : [];
    this.groupsPanel.count.textContent = ` ${groups.length}`;
    const seen = new Set();
    let prev = null;
    for (const g of groups) {
      seen.add(g.name);
      let gv = this.groups.get(g.name);
      if (!gv) {
        gv = new GroupPanel(this, g.name);
        this.groups.set(g.name, gv);
      }
      const want = prev ? prev.nextSibling : this.groupsBox.firstChild;
      if (want !== gv.el) this.groupsBox.insertBefore(gv.el, want);
      prev = gv.el;
      gv.update(g, (d.lag_series || {})[g.name], c.partitions.map((p) => p.partition));
    }
    for (const [name, gv] of this.groups) {
      if (!seen.has(name)) {
        gv.destroy();
        this.groups.delete(name);
      }
    }
    if (groups.length === 0) {
      if (!this.noGroups) this.noGroups = h('p', { class: 'muted', text: 'No consumer groups.' });
      this.groupsBox.append(this.noGroups);
    } else if (this.noGroups) this.noGroups.remove();
  }

  destroy() {
    this.dead = true;
    for (const gv of this.groups.values()) gv.destroy();
  }
}

class GroupPanel {
  constructor(stream, name) {
    this.stream = stream;
    this.name = name;
    this.total = h('span', { class: 'pill', testid: 'group-lag' });
    this.growing = h('span', { class: 'up', testid: 'group-growing', text: '▲ lag growing', hidden: true });
    this.parts = table('group-partitions', [['Partition', 'num'], ['Position', 'num'], ['Lag', 'num']]);
    this.chartBox = h('div', { class: 'group-chart' });
    this.chartKey = null;
    this.result = resultLine('seek-result');
    const body = h('div', { class: 'group-body' }, h('div', { class: 'group-left' }, this.parts.el), this.chartBox);
    this.el = h('div', { class: 'cgroup', testid: `group-${name}` },
      h('h3', null, h('span', { class: 'kind', text: 'group' }), ' ', h('span', { testid: 'group-name', text: name }),
        ' ', h('span', { class: 'muted', text: 'lag' }), ' ', this.total, ' ', this.growing),
      body);
    if (!readOnly()) this.el.append(this.seekForm());
    this.el.append(this.result);
  }

  seekForm() {
    this.partSel = h('select', { testid: 'seek-partition', 'aria-label': 'partition' });
    this.posInput = h('input', { type: 'number', min: '0', step: '1', testid: 'seek-position', placeholder: 'position', 'aria-label': 'position' });
    this.timeInput = h('input', { type: 'datetime-local', step: '1', testid: 'seek-time', 'aria-label': 'time' });
    return h('div', { class: 'seek', testid: 'seek-form' },
      h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); this.seekPosition(); } },
        h('span', { class: 'muted', text: 'Seek partition' }), this.partSel,
        h('span', { class: 'muted', text: 'to position' }), this.posInput,
        h('button', { type: 'submit', testid: 'action-seek', text: 'Seek' })),
      h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); this.seekTime(); } },
        h('span', { class: 'muted', text: 'or every partition to the time' }), this.timeInput,
        h('button', { type: 'submit', testid: 'action-seek-time', text: 'Seek to time' })));
  }

  update(g, series, partitions) {
    this.total.textContent = num(g.lag);
    this.total.classList.toggle('zero', !(g.lag > 0));
    this.growing.hidden = !g.lag_growing;
    this.el.classList.toggle('problem', Boolean(g.lag_growing));
    patch(this.parts.tbody, g.partitions, (p) => p.partition, (p) => h('tr', { testid: `group-partition-${p.partition}` },
      h('td', { class: 'num', testid: 'partition', text: p.partition }),
      h('td', { class: 'num', testid: 'position', text: num(p.position) }),
      h('td', { class: p.lag > 0 ? 'num strong' : 'num', testid: 'lag', text: num(p.lag) })));
    if (this.partSel) {
      const sig = JSON.stringify(partitions);
      if (this.partSel.sig !== sig) {
        this.partSel.sig = sig;
        const keep = this.partSel.value;
        this.partSel.replaceChildren(...partitions.map((p) => h('option', { value: String(p), text: String(p) })));
        if (partitions.map(String).includes(keep)) this.partSel.value = keep;
      }
    }
    const parts = series ? series.partitions : g.partitions.map((p) => p.partition);
    const key = JSON.stringify(parts);
    if (key !== this.chartKey) {
      if (this.chart) this.chart.destroy();
      this.chartKey = key;
      this.chart = new TimeChart(this.chartBox, { title: 'Lag per partition', testid: 'chart-lag', height: 160,
        series: parts.map((p, i) => ({ label: `partition ${p}`, color: COLORS[i % COLORS.length] })) });
    }
    this.chart.setData(columns(series ? series.points : [], parts.length + 1));
  }

  async seek(body, question, done) {
    if (!window.confirm(question)) return;
    try {
      await api(`${this.stream.path}/seek`, { method: 'POST', body });
      if (this.stream.dead) return;
      clearError('action');
      setResult(this.result, done);
      await this.stream.refresh();
    } catch (e) {
      setResult(this.result, '');
      showError(e.message, 'action');
    }
  }

  seekPosition() {
    const partition = this.partSel.value;
    const position = this.posInput.value.trim();
    if (partition === '' || !/^[0-9]+$/.test(position)) {
      setResult(this.result, 'Choose a partition and a position (a whole number).', false);
      return;
    }
    this.seek({ group: this.name, partition: Number(partition), position: Number(position) },
      `Seek group ${this.name} of stream ${this.stream.name} to position ${position} of partition ${partition}?`,
      `Group ${this.name} now reads partition ${partition} from position ${position}`);
  }

  seekTime() {
    const at = isoFromLocal(this.timeInput.value);
    if (!at) {
      setResult(this.result, 'Choose a time.', false);
      return;
    }
    this.seek({ group: this.name, at }, `Seek group ${this.name} of stream ${this.stream.name} to ${at}?`,
      `Group ${this.name} now reads from ${at}`);
  }

  destroy() {
    if (this.chart) this.chart.destroy();
    this.el.remove();
  }
}

/* --------------------------------------------------------------- router */

function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/(queue|stream)\/(.+)$/.exec(hash);
  if (!m) return { kind: 'overview' };
  let name = m[2];
  try {
    name = decodeURIComponent(name);
  } catch {
    // a name that is not encoded: as it is
  }
  return { kind: m[1], name };
}

function crumbs(r) {
  const nav = $('[data-testid="crumbs"]');
  fill(nav, r.kind === 'overview' ? h('span', { class: 'here', text: 'Overview' })
    : [h('a', { href: '#/', text: 'Overview' }), h('span', { class: 'crumb-sep', text: '›' }),
      h('span', { class: 'here', text: `${r.kind} ${r.name}` })]);
  document.title = r.kind === 'overview' ? 'queue console' : `${r.name} · queue console`;
}

async function tick(view) {
  if (view.refreshing) return;
  view.refreshing = true;
  try {
    await view.refresh();
    if (view === app.view && !view.dead) {
      markRefreshed();
      clearError('refresh');
    }
  } catch (e) {
    if (view === app.view && !view.dead) {
      showError(e.message, 'refresh');
      $('[data-testid="last-refresh"]').classList.add('stale');
    }
  } finally {
    view.refreshing = false;
  }
}

function schedule() {
  clearTimeout(app.timer);
  const seconds = Math.max(1, Number(app.session.refresh_seconds) || 5);
  app.timer = setTimeout(async () => {
    const view = app.view;
    if (view && !document.hidden) await tick(view);
    schedule();
  }, seconds * 1000);
}

function route() {
  const r = parseRoute();
  if (app.view) app.view.destroy();
  if (app.errorSource === 'refresh' || app.errorSource === 'action') clearError();
  const root = $('#view');
  root.replaceChildren();
  const view = r.kind === 'queue' ? new QueueView(r.name) : r.kind === 'stream' ? new StreamView(r.name) : new OverviewView();
  root.dataset.view = r.kind;
  app.view = view;
  crumbs(r);
  view.mount(root);
  window.scrollTo(0, 0);
  tick(view);
  schedule();
}

function showSession(s) {
  $('[data-testid="session-database"]').textContent = s.database;
  $('[data-testid="session-role"]').textContent = `as ${s.role}`;
  $('[data-testid="session-version"]').textContent = `queue ${s.version} · PostgreSQL ${s.server}`;
  $('[data-testid="read-only-badge"]').hidden = !s.read_only;
  document.body.classList.toggle('read-only', Boolean(s.read_only));
}

async function boot() {
  // The console also serves /queue/<name> and /stream/<name>: the same views.
  const path = /^\/(queue|stream)\/(.+)$/.exec(location.pathname);
  if (path) history.replaceState(null, '', `/#/${path[1]}/${path[2]}`);
  try {
    app.session = await api('/api/session');
  } catch (e) {
    showError(`${e.message} — trying again in 5 s`, 'session');
    $('#view').replaceChildren(h('p', { class: 'loading', text: 'Cannot reach the console.' }));
    setTimeout(boot, 5000);
    return;
  }
  clearError('session');
  showSession(app.session);
  window.addEventListener('hashchange', route);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && app.view) tick(app.view);
  });
  route();
}

$('[data-testid="error-close"]').addEventListener('click', () => clearError());
boot();
