// Orderly console: orders, one order's saga as a swimlane, queues and dead
// letters, health, products. No framework, no build step: this file is served
// as it is, compiled into the binary.
//
// Security: the token lives in this tab's sessionStorage and goes out only as
// an Authorization header (never in a URL or a cookie, so no other site can
// make a request that carries it). Text from the server is set with
// textContent, never parsed as HTML. Views poll with If-None-Match.

const TOKEN_KEY = 'orderly.console.token';
const POLL_MS = 2000;
const SVG_NS = 'http://www.w3.org/2000/svg';
const LANES = ['orders', 'inventory', 'payments', 'shipping', 'notifications'];
const COMPENSATIONS = new Set([
  'InventoryReleased', 'PaymentVoided', 'PaymentRefunded', 'ShipmentCancelled', 'OrderCancelled',
]);
const REFUSALS = new Set([
  'PaymentDeclined', 'InventoryReservationFailed', 'ShipmentCancellationRefused',
]);
const STATUSES = ['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'];

// ------------------------------------------------------------------ DOM helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c == null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function table(headers, rows, { caption, numeric = [] } = {}) {
  return h('table', {},
    caption ? h('caption', { class: 'hint' }, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((t, i) =>
      h('th', { scope: 'col', class: numeric.includes(i) ? 'num' : null }, t)))),
    h('tbody', {}, rows));
}

const view = () => document.getElementById('view');
function status(text, error = false) {
  const p = document.getElementById('status');
  p.textContent = text;
  p.className = error ? 'error' : '';
}

// ------------------------------------------------------------------ session

function b64urlJson(part) {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

// What the token says of its holder, for the page's choices only: the server
// verifies it on every request and decides.
function session() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const claims = b64urlJson(token.split('.')[1] ?? '');
    const scopes = String(claims.scope ?? claims.scp ?? '').split(/\s+/);
    const groups = claims['cognito:groups'] ?? [];
    return {
      token,
      subject: String(claims.sub ?? ''),
      admin: scopes.some((x) => x === 'admin' || x.endsWith('/admin')) || groups.includes('admin'),
      expires: typeof claims.exp === 'number' ? new Date(claims.exp * 1000) : null,
    };
  } catch {
    return { token, subject: '?', admin: false, expires: null };
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  route();
}

// ------------------------------------------------------------------ API

class ApiError extends Error {
  constructor(status, problem, path) {
    super(problem?.detail || problem?.title || problem?.message || `HTTP ${status}`);
    this.status = status;
    this.path = path;
    this.problem = problem;
  }
}

const cache = new Map(); // path -> {etag, data}

async function api(path, { method = 'GET', body } = {}) {
  const who = session();
  const headers = { Accept: 'application/json' };
  if (who) headers.Authorization = `Bearer ${who.token}`;
  const cached = method === 'GET' ? cache.get(path) : undefined;
  if (cached) headers['If-None-Match'] = cached.etag;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
    referrerPolicy: 'no-referrer',
  });
  if (res.status === 304 && cached) return { data: cached.data, changed: false };
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!res.ok) {
    if (res.status === 401 && who) status('The token was refused (expired?): sign in again.', true);
    throw new ApiError(res.status, data, path.split('?')[0]);
  }
  const etag = res.headers.get('ETag');
  if (method === 'GET' && etag) cache.set(path, { etag, data });
  return { data, changed: true };
}

// ------------------------------------------------------------------ polling

let poller = null;
function poll(fn, every = POLL_MS) {
  stopPolling();
  let stopped = false;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } catch (e) {
      showError(e);
    }
    if (!stopped) poller.timer = setTimeout(tick, every);
  };
  poller = { stop: () => { stopped = true; clearTimeout(poller?.timer); } };
  tick();
}
function stopPolling() {
  if (poller) poller.stop();
  poller = null;
}

function showError(e) {
  if (e instanceof ApiError && e.status === 404 && /^\/(v1\/admin|metrics)/.test(e.path ?? '')) {
    view().replaceChildren(h('div', { class: 'refused', role: 'alert' },
      h('h1', {}, 'Not on this deployment'),
      h('p', {}, `${e.path} is served by \`orderly up\` only. On AWS, queues and dead letters are in SQS (redrive from its DLQ), and the figures in CloudWatch (docs/operations.md).`)));
    stopPolling();
    return;
  }
  if (e instanceof ApiError) {
    if (e.status === 403 || e.status === 401) {
      view().replaceChildren(refusal(e));
      stopPolling();
      return;
    }
    status(`${e.status}: ${e.message}`, true);
  } else {
    status(String(e.message ?? e), true);
  }
}

function refusal(e) {
  const who = session();
  return h('div', { class: 'refused', role: 'alert' },
    h('h1', {}, e.status === 401 ? 'Sign in needed' : 'Not allowed'),
    h('p', {}, e.message),
    who && !who.admin ? h('p', {}, 'This view is for operators: it needs a token with the admin scope.') : null);
}

// ------------------------------------------------------------------ formatting

const fmtMoney = (m) => (m && typeof m.amount === 'number'
  ? `${(m.amount / 100).toFixed(2)} ${m.currency}` : '');
const fmtTime = (t) => (t ? new Date(t).toISOString().replace('T', ' ') : '');
const shortType = (t) => String(t).split('.').slice(-2, -1)[0] ?? t;
const laneOf = (source) => String(source ?? '').split('.').pop();
const ruleService = (rule) => String(rule).split('.')[0];
function fmtAge(ms) {
  if (!ms) return '0 s';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
function badge(st) {
  return h('span', { class: `badge ${STATUSES.includes(st) ? st : ''}` }, st);
}

// ------------------------------------------------------------------ views: orders

function ordersQuery() {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  return { status: q.get('status') ?? '', customer: q.get('customer') ?? '', since: q.get('since') ?? '' };
}

function ordersView() {
  const who = session();
  const q = ordersQuery();
  const statusSel = h('select', { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'Any'),
    STATUSES.map((x) => h('option', { value: x, selected: q.status === x }, x)));
  const customer = h('input', { id: 'f-customer', name: 'customer', value: q.customer || '',
    placeholder: who.admin ? 'every customer' : who.subject, disabled: !who.admin });
  const since = h('input', { id: 'f-since', name: 'since', type: 'datetime-local', value: q.since });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter orders',
    onsubmit: (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      if (statusSel.value) p.set('status', statusSel.value);
      if (customer.value.trim()) p.set('customer', customer.value.trim());
      if (since.value) p.set('since', since.value);
      location.hash = `#/orders${p.toString() ? `?${p}` : ''}`;
    } },
  h('label', {}, 'Status', statusSel),
  h('label', {}, 'Customer', customer),
  h('label', {}, 'Placed since (UTC)', since),
  h('button', { type: 'submit' }, 'Filter'));
  const body = h('tbody', {});
  const updated = h('p', { class: 'hint', id: 'orders-updated' });
  view().replaceChildren(
    h('h1', {}, who.admin ? 'Orders' : 'Your orders'),
    form,
    h('table', { id: 'orders' },
      h('thead', {}, h('tr', {},
        ['Order', 'Customer', 'Status', 'Total', 'Placed'].map((t, i) =>
          h('th', { scope: 'col', class: i === 3 ? 'num' : null }, t)))),
      body),
    updated);

  const sinceIso = q.since ? new Date(`${q.since}Z`).toISOString() : '';
  let path;
  if (who.admin) {
    const p = new URLSearchParams({ limit: '100' });
    if (q.status) p.set('status', q.status);
    if (q.customer) p.set('customer', q.customer);
    if (sinceIso) p.set('since', sinceIso);
    path = `/v1/admin/orders?${p}`;
  } else {
    path = '/v1/orders?limit=100';
  }
  poll(async () => {
    let res;
    try {
      res = await api(path);
    } catch (e) {
      // A deployment without the admin listing (AWS: API Gateway has no such route):
      // one customer's orders (the filter's, else the caller's) through GET /v1/orders.
      if (!(who.admin && e instanceof ApiError && e.status === 404 && path.startsWith('/v1/admin/'))) throw e;
      path = `/v1/orders?limit=100${q.customer ? `&customer=${encodeURIComponent(q.customer)}` : ''}`;
      updated.dataset.fallback = 'true';
      res = await api(path);
    }
    const { data, changed } = res;
    updated.textContent = `Updated ${new Date().toLocaleTimeString()} (every ${POLL_MS / 1000} s).${
      updated.dataset.fallback ? ' This deployment lists one customer at a time: name one in the filter.' : ''}`;
    if (!changed && body.childElementCount) return;
    let items = data.items ?? [];
    // A customer's listing is filtered here; an admin's by the server.
    if (!path.startsWith('/v1/admin/')) {
      if (q.status) items = items.filter((o) => o.status === q.status);
      if (sinceIso) items = items.filter((o) => o.createdAt >= sinceIso);
    }
    body.replaceChildren(...(items.length ? items.map((o) => h('tr', { 'data-order': o.orderId },
      h('td', {}, h('a', { href: `#/order/${encodeURIComponent(o.orderId)}`, class: 'mono' }, o.orderId)),
      h('td', {}, o.customerId ?? ''),
      h('td', {}, badge(o.status)),
      h('td', { class: 'num' }, fmtMoney(o.total)),
      h('td', {}, fmtTime(o.createdAt)))) : [h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No orders match.'))]));
  });
}

// ------------------------------------------------------------------ views: one order

function orderView(id) {
  const who = session();
  const summary = h('div', { id: 'order-summary' });
  // Focusable, so that a keyboard can scroll a long saga.
  const lanes = h('div', { class: 'lanes-wrap', id: 'swimlane', tabindex: 0, role: 'region', 'aria-label': 'Saga swimlane' });
  const events = h('div', { id: 'order-events' });
  const deliveries = h('div', { id: 'order-deliveries' });
  view().replaceChildren(
    h('p', {}, h('a', { href: '#/orders' }, '← Orders')),
    h('h1', {}, 'Order ', h('span', { class: 'mono' }, id)),
    summary,
    h('h2', {}, 'Saga'),
    h('p', { class: 'legend' },
      h('span', {}, 'event'), h('span', { class: 'l-comp' }, 'compensation'),
      h('span', { class: 'l-ref' }, 'refusal'), who.admin ? h('span', { class: 'l-retry' }, 'retry') : null,
      who.admin ? h('span', { class: 'l-dead' }, 'dead letter') : null),
    lanes, events, deliveries);
  const enc = encodeURIComponent(id);
  let sagaRoute = true;
  poll(async () => {
    const o = await api(`/v1/orders/${enc}`);
    let saga;
    if (sagaRoute) {
      try {
        saga = await api(`/v1/orders/${enc}/saga`);
      } catch (e) {
        // The order exists, so a 404 here is a deployment without the saga route (AWS:
        // no bus archive to read): draw the order's own timeline instead.
        if (!(e instanceof ApiError && e.status === 404)) throw e;
        sagaRoute = false;
      }
    }
    if (!sagaRoute) saga = { data: timelineSaga(o.data), changed: o.changed };
    if (o.changed || !summary.childElementCount) renderSummary(summary, o.data);
    if (saga.changed || !lanes.childElementCount) {
      lanes.replaceChildren(swimlane(saga.data));
      if (saga.data.fromTimeline) {
        lanes.append(h('p', { class: 'hint', id: 'timeline-note' },
          'From the order\'s own timeline: this deployment has no saga route, so only the events the orders service saw are drawn, each after the one before.'));
      }
      events.replaceChildren(eventTable(saga.data));
      deliveries.replaceChildren(...deliveryTables(saga.data));
    }
  });
}

// The saga as the order itself recorded it (its timeline: the events orders
// saw), for a deployment without GET /v1/orders/{id}/saga. Causes are not
// recorded there: the entries are put in time order (a timer's entry carries
// the time it was set, not the time it fired) and each hop is drawn from the
// event before it.
function timelineSaga(o) {
  const tl = [...(o.timeline ?? [])].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return {
    orderId: o.orderId,
    status: o.status,
    fromTimeline: true,
    events: tl.map((t, i) => ({
      id: t.eventId,
      type: t.type,
      source: `orderly.${String(t.type).split('.')[1] ?? 'orders'}`,
      time: t.time,
      causationid: i > 0 ? tl[i - 1].eventId : undefined,
    })),
  };
}

function renderSummary(el, o) {
  el.replaceChildren(h('dl', { class: 'cards' },
    h('div', { class: 'card' }, h('dt', {}, 'Status'), h('dd', { id: 'order-status' }, badge(o.status),
      o.cancellationReason ? ` (${o.cancellationReason})` : '')),
    h('div', { class: 'card' }, h('dt', {}, 'Total'), h('dd', {}, fmtMoney(o.total))),
    h('div', { class: 'card' }, h('dt', {}, 'Customer'), h('dd', {}, o.customerId ?? '')),
    h('div', { class: 'card' }, h('dt', {}, 'Placed'), h('dd', {}, fmtTime(o.createdAt))),
    o.trackingNumber ? h('div', { class: 'card' }, h('dt', {}, 'Tracking'),
      h('dd', {}, `${o.carrier ?? ''} ${o.trackingNumber}`)) : null));
}

function eventClass(type) {
  const t = shortType(type);
  if (COMPENSATIONS.has(t)) return 'compensation';
  if (REFUSALS.has(t)) return 'refusal';
  return '';
}

// One lane per service, one column per event in publish order, an arrow from
// each event's cause (causationid) labelled with the time the hop took.
// Retries, queued deliveries and dead letters sit in the consumer's lane, in
// the column of the event they failed to deliver.
function swimlane(saga) {
  const evs = saga.events ?? [];
  const colW = 150;
  const left = 120;
  const laneH = 64;
  const top = 10;
  const width = Math.max(1240, left + Math.max(1, evs.length) * colW + 20);
  const height = top + LANES.length * laneH + 10;
  const x = (i) => left + i * colW + colW / 2;
  const y = (lane) => top + Math.max(0, LANES.indexOf(lane)) * laneH + laneH / 2;
  const svg = s('svg', { class: 'swimlane', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-labelledby': 'swim-title swim-desc' });
  svg.append(
    s('title', { id: 'swim-title' }, `Saga of order ${saga.orderId}`),
    s('desc', { id: 'swim-desc' }, `${evs.length} events across ${LANES.length} services; the table below lists them.`),
    s('defs', {}, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
    s('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }))));
  LANES.forEach((lane, i) => {
    svg.append(s('rect', { class: `lane${i % 2 ? ' alt' : ''}`, x: 0, y: top + i * laneH, width, height: laneH }),
      s('text', { class: 'lane-name', x: 8, y: top + i * laneH + laneH / 2 + 4 }, lane));
  });
  const index = new Map(evs.map((e, i) => [e.id, i]));
  evs.forEach((e, i) => {
    if (!e.causationid || !index.has(e.causationid)) return;
    const j = index.get(e.causationid);
    const from = evs[j];
    const x1 = x(j); const y1 = y(laneOf(from.source));
    const x2 = x(i); const y2 = y(laneOf(e.source));
    const dy = y2 === y1 ? -22 : 0;
    svg.append(s('path', { class: 'hop', d: `M ${x1 + 7} ${y1} C ${x1 + 50} ${y1 + dy}, ${x2 - 50} ${y2 + dy}, ${x2 - 8} ${y2}`,
      'marker-end': 'url(#arrow)' }));
    const ms = Date.parse(e.time) - Date.parse(from.time);
    if (Number.isFinite(ms)) {
      svg.append(s('text', { class: 'hop-time', x: (x1 + x2) / 2, y: (y1 + y2) / 2 + dy - 4, 'text-anchor': 'middle' },
        `+${ms} ms`));
    }
  });
  evs.forEach((e, i) => {
    const cls = eventClass(e.type);
    const g = s('g', { class: `event ${cls}`, 'data-type': shortType(e.type) });
    g.append(s('circle', { cx: x(i), cy: y(laneOf(e.source)), r: 7 }),
      s('text', { x: x(i), y: y(laneOf(e.source)) + 20, 'text-anchor': 'middle' }, shortType(e.type)),
      s('title', {}, `${shortType(e.type)} at ${fmtTime(e.time)}${e.reason ? ` (${e.reason})` : ''}`));
    svg.append(g);
  });
  const mark = (list, cls, text) => {
    const seen = new Map();
    for (const f of list ?? []) {
      if (!index.has(f.eventId)) continue;
      const i = index.get(f.eventId);
      const lane = ruleService(f.rule);
      const key = `${i}/${lane}`;
      const n = seen.get(key) ?? 0;
      seen.set(key, n + 1);
      const cx = x(i) + 16 + n * 10; const cy = y(lane) - 14;
      const shape = cls === 'dead'
        ? s('rect', { class: cls, x: cx - 5, y: cy - 5, width: 10, height: 10 })
        : s('circle', { class: cls, cx, cy, r: 5 });
      svg.append(s('g', { class: `delivery ${cls}-mark`, 'data-rule': f.rule }, shape,
        s('title', {}, text(f))));
    }
  };
  mark(saga.failures, 'retry', (f) => `retry: ${f.rule} receive ${f.receiveCount}: ${f.error}`);
  mark(saga.pending, 'queued', (p) => `queued for ${p.rule} (receive ${p.receiveCount})${p.lastError ? `: ${p.lastError}` : ''}`);
  mark(saga.deadLetters, 'dead', (d) => `dead letter in ${d.rule}: ${d.lastError}`);
  return svg;
}

function eventTable(saga) {
  const evs = saga.events ?? [];
  const byId = new Map(evs.map((e) => [e.id, e]));
  return table(['Event', 'Service', 'Time', 'Hop', 'Note'], evs.map((e) => {
    const cause = byId.get(e.causationid);
    const ms = cause ? Date.parse(e.time) - Date.parse(cause.time) : null;
    const cls = eventClass(e.type);
    return h('tr', { class: cls || null },
      h('td', {}, shortType(e.type)),
      h('td', {}, laneOf(e.source)),
      h('td', {}, fmtTime(e.time)),
      h('td', { class: 'num' }, ms == null ? '' : `+${ms} ms after ${shortType(cause.type)}`),
      h('td', {}, [cls, e.reason].filter(Boolean).join(': ')));
  }), { caption: 'Events in publish order', numeric: [3] });
}

function deliveryTables(saga) {
  if (!('failures' in saga)) return [];
  const out = [h('h2', {}, 'Deliveries that failed')];
  const rows = [
    ...(saga.failures ?? []).map((f) => h('tr', { class: 'retry-row' }, h('td', {}, 'retried'), h('td', {}, f.rule),
      h('td', {}, shortType(evType(saga, f.eventId))), h('td', { class: 'num' }, f.receiveCount), h('td', {}, f.error), h('td', {}, fmtTime(f.at)))),
    ...(saga.pending ?? []).filter((p) => p.receiveCount > 0).map((p) => h('tr', {}, h('td', {}, p.inFlight ? 'in flight' : 'waiting'),
      h('td', {}, p.rule), h('td', {}, shortType(evType(saga, p.eventId))), h('td', { class: 'num' }, p.receiveCount),
      h('td', {}, p.lastError), h('td', {}, fmtTime(p.visibleAt)))),
    ...(saga.deadLetters ?? []).map((d) => h('tr', { class: 'dead-row' }, h('td', {}, 'dead letter'), h('td', {}, d.rule),
      h('td', {}, shortType(d.type)), h('td', { class: 'num' }, d.receiveCount), h('td', {}, d.lastError), h('td', {}, fmtTime(d.deadAt)))),
  ];
  out.push(rows.length ? table(['What', 'Rule', 'Event', 'Receive', 'Error', 'When'], rows, { numeric: [3] })
    : h('p', { class: 'empty' }, 'Every delivery of this order succeeded at the first try.'));
  return out;
}
const evType = (saga, id) => (saga.events ?? []).find((e) => e.id === id)?.type ?? '?';

// ------------------------------------------------------------------ views: queues

function queuesView() {
  const queues = h('div', { id: 'queues' });
  const dead = h('div', { id: 'dlq' });
  view().replaceChildren(h('h1', {}, 'Queues'), queues, h('h2', {}, 'Dead letters'), dead);
  poll(async () => {
    const [q, d] = await Promise.all([api('/v1/admin/queues'), api('/v1/admin/dlq')]);
    if (q.changed || !queues.childElementCount) {
      queues.replaceChildren(table(['Rule', 'Ready', 'Delayed', 'In flight', 'Oldest', 'Dead', ''],
        q.data.items.map((r) => h('tr', { 'data-rule': r.rule },
          h('td', { class: 'mono' }, r.rule), h('td', { class: 'num' }, r.ready), h('td', { class: 'num' }, r.delayed),
          h('td', { class: 'num' }, r.inFlight), h('td', { class: 'num' }, fmtAge(r.oldestAgeMs)),
          h('td', { class: 'num' }, r.dead),
          h('td', {}, r.dead > 0 && r.rule !== '$relay'
            ? h('button', { type: 'button', class: 'secondary', 'data-redrive-all': r.rule,
              onclick: (ev) => redrive(ev.currentTarget, r.rule) }, `Redrive all (${r.dead})`) : ''))),
        { caption: 'One queue per rule', numeric: [1, 2, 3, 4, 5] }));
    }
    if (d.changed || !dead.childElementCount) {
      const items = d.data.items ?? [];
      dead.replaceChildren(items.length ? table(['Id', 'Rule', 'Event', 'Receives', 'Last error', 'Dead since', ''],
        items.map((x) => h('tr', { 'data-dead': x.id },
          h('td', { class: 'num' }, x.id), h('td', { class: 'mono' }, x.rule), h('td', {}, shortType(x.type)),
          h('td', { class: 'num' }, x.receiveCount), h('td', {}, x.lastError), h('td', {}, fmtTime(x.deadAt)),
          h('td', {}, x.rule === '$relay' ? 'inspect only'
            : h('button', { type: 'button', 'data-redrive': x.id, onclick: (ev) => redrive(ev.currentTarget, x.rule, x.id) },
              'Redrive')))), { numeric: [0, 3] })
        : h('p', { class: 'empty' }, 'No dead letters.'));
    }
  });
}

async function redrive(button, rule, id) {
  button.disabled = true;
  const path = id == null ? `/v1/admin/dlq/${encodeURIComponent(rule)}/redrive`
    : `/v1/admin/dlq/${encodeURIComponent(rule)}/${id}/redrive`;
  try {
    const { data } = await api(path, { method: 'POST' });
    status(`Redrove ${data.redriven} message${data.redriven === 1 ? '' : 's'} of ${rule}.`);
  } catch (e) {
    button.disabled = false;
    showError(e);
  }
}

// ------------------------------------------------------------------ views: health

// Prometheus text: [{name, labels, value}].
function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}
const sum = (ms, name, pred = () => true) =>
  ms.filter((m) => m.name === name && pred(m.labels)).reduce((a, m) => a + m.value, 0);
function buckets(ms, name) {
  const by = new Map();
  for (const m of ms) if (m.name === `${name}_bucket`) by.set(m.labels.le, (by.get(m.labels.le) ?? 0) + m.value);
  return by;
}
// A quantile from the difference of two cumulative bucket snapshots.
function quantile(q, now, then) {
  const les = [...now.keys()].sort((a, b) => (a === '+Inf') - (b === '+Inf') || Number(a) - Number(b));
  const total = (now.get('+Inf') ?? 0) - (then?.get('+Inf') ?? 0);
  if (total <= 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const le of les) {
    const c = (now.get(le) ?? 0) - (then?.get(le) ?? 0);
    if (c >= rank) {
      if (le === '+Inf') return prevLe;
      const hi = Number(le);
      return prevLe + ((hi - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
    }
    prevLe = Number(le);
    prevCount = c;
  }
  return prevLe;
}

const history = []; // {t, ms} snapshots of /metrics, newest last, 10 minutes
function healthView() {
  const cards = h('div', { class: 'cards', id: 'health' });
  const note = h('p', { class: 'hint' },
    'From GET /metrics every 5 s while this page is open; rates and percentiles over the last minute.');
  view().replaceChildren(h('h1', {}, 'Health'), note, cards);
  poll(async () => {
    const { data } = await api('/metrics');
    const now = Date.now();
    history.push({ t: now, ms: parseMetrics(String(data)) });
    while (history.length && history[0].t < now - 600_000) history.shift();
    renderHealth(cards);
  }, 5000);
}

function windowStats(a, b) {
  const dt = (b.t - a.t) / 1000;
  const http = (x, pred) => sum(x.ms, 'orderly_http_request_duration_seconds_count', pred);
  const req = http(b) - http(a);
  const err5 = http(b, (l) => l.status?.startsWith('5')) - http(a, (l) => l.status?.startsWith('5'));
  const placed = (x) => sum(x.ms, 'orderly_orders_total', (l) => l.status === 'placed');
  const ev = (x, pred) => sum(x.ms, 'orderly_events_consumed_total', pred);
  const evAll = ev(b) - ev(a);
  const evBad = ev(b, (l) => l.outcome !== 'ok') - ev(a, (l) => l.outcome !== 'ok');
  const hb = buckets(b.ms, 'orderly_http_request_duration_seconds');
  const ha = buckets(a.ms, 'orderly_http_request_duration_seconds');
  const sb = buckets(b.ms, 'orderly_saga_duration_seconds');
  const sa = buckets(a.ms, 'orderly_saga_duration_seconds');
  return {
    rps: dt > 0 ? req / dt : 0,
    ops: dt > 0 ? (placed(b) - placed(a)) / dt : 0,
    errRate: req > 0 ? err5 / req : 0,
    evErrRate: evAll > 0 ? evBad / evAll : 0,
    p50: quantile(0.5, hb, ha), p99: quantile(0.99, hb, ha),
    saga50: quantile(0.5, sb, sa), saga99: quantile(0.99, sb, sa),
    queued: sum(b.ms, 'orderly_queue_depth'),
    dead: sum(b.ms, 'orderly_dlq_depth'),
  };
}

function spark(values) {
  const w = 200; const hgt = 60;
  const max = Math.max(1e-9, ...values.map((v) => v ?? 0));
  const pts = values.map((v, i) => `${(i / Math.max(1, values.length - 1)) * w},${hgt - ((v ?? 0) / max) * (hgt - 4) - 2}`);
  return s('svg', { viewBox: `0 0 ${w} ${hgt}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' },
    s('polyline', { class: 'spark', points: pts.join(' ') }));
}

function renderHealth(cards) {
  if (history.length < 2) {
    cards.replaceChildren(h('p', { class: 'empty' }, 'Collecting: the first rates appear after two samples (5 s).'));
    return;
  }
  const last = history[history.length - 1];
  const base = history.find((x) => x.t >= last.t - 60_000) ?? history[0];
  const st = windowStats(base === last ? history[history.length - 2] : base, last);
  const series = (f) => history.slice(1).map((x, i) => f(windowStats(history[i], x)));
  const ms = (v) => (v == null ? 'n/a' : `${(v * 1000).toFixed(1)} ms`);
  const pct = (v) => `${(v * 100).toFixed(2)} %`;
  const card = (id, title, big, values, sub) => h('section', { class: 'card', id, 'aria-labelledby': `${id}-t` },
    h('h2', { id: `${id}-t` }, title), h('p', { class: 'big' }, big), values ? spark(values) : null,
    sub ? h('p', { class: 'hint' }, sub) : null);
  cards.replaceChildren(
    card('h-orders', 'Orders placed', `${st.ops.toFixed(1)} /s`, series((x) => x.ops)),
    card('h-rps', 'HTTP requests', `${st.rps.toFixed(1)} /s`, series((x) => x.rps)),
    card('h-latency', 'HTTP latency p99', ms(st.p99), series((x) => x.p99), `p50 ${ms(st.p50)}`),
    card('h-saga', 'Saga p99 (placed → confirmed or cancelled)', ms(st.saga99), series((x) => x.saga99), `p50 ${ms(st.saga50)}`),
    card('h-errors', 'HTTP 5xx rate', pct(st.errRate), series((x) => x.errRate)),
    card('h-events', 'Event deliveries not ok', pct(st.evErrRate), series((x) => x.evErrRate), 'retries and failures'),
    card('h-queued', 'Messages queued', String(st.queued), null, `${st.dead} dead letters`));
}

// ------------------------------------------------------------------ views: products

function productsView() {
  const body = h('div', { id: 'products' });
  view().replaceChildren(h('h1', {}, 'Products'), body);
  poll(async () => {
    const { data, changed } = await api('/v1/products');
    if (!changed && body.childElementCount) return;
    // On hand and reserved come only with an admin's token; a customer sees what is available.
    const stock = (data.items ?? []).some((p) => 'onHand' in p);
    body.replaceChildren(table(['SKU', 'Name', 'Price', ...(stock ? ['On hand', 'Reserved'] : []), 'Available'],
      (data.items ?? []).map((p) => h('tr', { 'data-sku': p.sku },
        h('td', { class: 'mono' }, p.sku), h('td', {}, p.name), h('td', { class: 'num' }, fmtMoney(p.price)),
        stock ? [h('td', { class: 'num' }, p.onHand), h('td', { class: 'num' }, p.reserved)] : [],
        h('td', { class: 'num' }, p.available))), { numeric: stock ? [2, 3, 4, 5] : [2, 3] }));
  }, 5000);
}

// ------------------------------------------------------------------ routing

function route() {
  stopPolling();
  status('');
  const who = session();
  const signin = document.getElementById('signin');
  document.getElementById('who-name').textContent = who
    ? `${who.subject}${who.admin ? ' (admin)' : ''}` : 'Not signed in';
  document.getElementById('sign-out').hidden = !who;
  for (const a of document.querySelectorAll('[data-admin]')) a.parentElement.hidden = !(who && who.admin);
  const hash = location.hash || '#/orders';
  for (const a of document.querySelectorAll('nav a')) {
    if (hash.startsWith(a.getAttribute('href'))) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!who) {
    signin.hidden = false;
    view().replaceChildren();
    document.getElementById('token').focus();
    return;
  }
  signin.hidden = true;
  const [, name, arg] = hash.split('?')[0].split('/');
  switch (name) {
    case 'order': return orderView(decodeURIComponent(arg ?? ''));
    case 'queues': return queuesView();
    case 'health': return healthView();
    case 'products': return productsView();
    default: return ordersView();
  }
}

document.getElementById('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = document.getElementById('token');
  const token = input.value.trim().replace(/^Bearer\s+/i, '');
  input.value = '';
  if (token.split('.').length !== 3) {
    status('That is not a JWT (three dot-separated parts).', true);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  cache.clear();
  route();
});
document.getElementById('sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
route();
