// Observability, end to end, against a real `orderly up`:
// - a traced request: the caller's trace id is in the traceparent of every
//   event of the order's timeline, each hop a different span;
// - /metrics after a mix of orders: every family is exposed, and the counts
//   match what the API says happened (orders by status and reason, revenue,
//   saga durations, consumed events);
// - the logs: every stdout line is one JSON object with the standard fields,
//   spans carry trace ids, and no token (JWT, payment token) appears anywhere
//   in stdout or stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { startServer, token, req, orderBody, waitAllTerminal, waitTerminal, tempDir, BIN } from './lib.mjs';

let srv;
let tok;
const dataDir = tempDir('orderly-obs-');
const traceId = randomBytes(16).toString('hex');
const callerSpan = randomBytes(8).toString('hex');
const placed = [];
let traced;

before(async () => {
  srv = await startServer({ dataDir, keepAllOutput: true, args: ['--log-level', 'info'] });
  tok = await token({ dataDir, customer: 'obs-alice' });
});
after(async () => {
  await srv?.stop();
});

async function place(body, headers = {}) {
  const r = await req(srv.url, { method: 'POST', path: '/v1/orders', token: tok, body, headers: { 'Idempotency-Key': randomBytes(8).toString('hex'), ...headers } });
  assert.equal(r.status, 202, r.text);
  placed.push(r.json.orderId);
  return r.json.orderId;
}

test('a traced request: its trace id is on every event of the order, one span per hop', async () => {
  const id = await place(orderBody(), { traceparent: `00-${traceId}-${callerSpan}-01` });
  traced = await waitTerminal(srv.url, tok, id);
  assert.equal(traced.status, 'DELIVERED');
  const spans = new Set();
  assert.ok(traced.timeline.length >= 5, JSON.stringify(traced.timeline));
  for (const e of traced.timeline) {
    assert.match(e.traceparent ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, `${e.type}: ${e.traceparent}`);
    assert.equal(e.traceparent.slice(3, 35), traceId, `${e.type} carries another trace`);
    assert.notEqual(e.traceparent.slice(36, 52), callerSpan, `${e.type}: the caller's span, not a child`);
    spans.add(e.traceparent.slice(36, 52));
  }
  assert.ok(spans.size >= 3, `expected several hops with their own spans, got ${[...spans]}`);
});

test('an invalid traceparent is ignored: the order gets a fresh trace', async () => {
  const id = await place(orderBody(), { traceparent: '00-00000000000000000000000000000000-0000000000000000-01' });
  const o = await waitTerminal(srv.url, tok, id);
  const first = o.timeline[0].traceparent;
  assert.match(first, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(first.slice(3, 35), '0'.repeat(32));
});

function parsePrometheus(text) {
  const samples = [];
  const types = {};
  for (const line of text.split('\n')) {
    if (!line) continue;
    const t = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line);
    if (t) {
      types[t[1]] = t[2];
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not an exposition line: ${line}`);
    const labels = {};
    if (m[3]) for (const [, k, v] of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return { samples, types };
}
const sum = (samples, name, where = () => true) =>
  samples.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);

test('/metrics after a mix of orders: every family, and counts that match what happened', async () => {
  await place(orderBody({ paymentToken: 'tok_decline' }));
  await place(orderBody({ items: [{ sku: 'LTD-ED-01', quantity: 50 }] }));
  for (let i = 0; i < 4; i++) await place(orderBody({ items: [{ sku: 'MS-WL-02', quantity: 1 + i }] }));
  const orders = await waitAllTerminal(srv.url, tok, placed, 30_000);

  // Business figures: admin only; a customer token and no token are refused.
  assert.equal((await req(srv.url, { path: '/metrics' })).status, 401);
  assert.equal((await req(srv.url, { path: '/metrics', token: tok })).status, 403);
  const ops = await token({ dataDir, customer: 'obs-ops', admin: true });
  const r = await req(srv.url, { path: '/metrics', token: ops });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const { samples, types } = parsePrometheus(r.text);
  for (const [family, type] of Object.entries({
    orderly_http_request_duration_seconds: 'histogram',
    orderly_events_published_total: 'counter',
    orderly_events_consumed_total: 'counter',
    orderly_event_handler_duration_seconds: 'histogram',
    orderly_retries_total: 'counter',
    orderly_queue_depth: 'gauge',
    orderly_queue_oldest_age_seconds: 'gauge',
    orderly_dlq_depth: 'gauge',
    orderly_saga_duration_seconds: 'histogram',
    orderly_orders_total: 'counter',
    orderly_revenue_minor_units_total: 'counter',
  }))
    assert.equal(types[family], type, `${family} is exposed as a ${type}`);

  const status = (s) => orders.filter((o) => o.status === s);
  const delivered = status('DELIVERED');
  const cancelled = status('CANCELLED');
  assert.equal(delivered.length + cancelled.length, orders.length);
  assert.ok(cancelled.length >= 2 && delivered.length >= 2, 'the mix has both outcomes');
  assert.equal(sum(samples, 'orderly_orders_total', (l) => l.status === 'placed'), orders.length);
  assert.equal(sum(samples, 'orderly_orders_total', (l) => l.status === 'delivered'), delivered.length);
  assert.equal(sum(samples, 'orderly_orders_total', (l) => l.status === 'cancelled'), cancelled.length);
  for (const reason of new Set(cancelled.map((o) => o.cancellationReason)))
    assert.equal(
      sum(samples, 'orderly_orders_total', (l) => l.status === 'cancelled' && l.reason === reason),
      cancelled.filter((o) => o.cancellationReason === reason).length,
      `cancelled for ${reason}`,
    );
  // Every delivered order was confirmed first, and only those here (no cancel after confirm).
  assert.equal(sum(samples, 'orderly_orders_total', (l) => l.status === 'confirmed'), delivered.length);
  const revenue = delivered.reduce((a, o) => a + o.total.amount, 0);
  assert.equal(sum(samples, 'orderly_revenue_minor_units_total', (l) => l.currency === 'GBP'), revenue);
  // One saga duration per order.
  assert.equal(sum(samples, 'orderly_saga_duration_seconds_count'), orders.length);
  assert.equal(sum(samples, 'orderly_saga_duration_seconds_count', (l) => l.outcome === 'confirmed'), delivered.length);
  // Published: one OrderPlaced per order; consumed ok by the saga at least once per order.
  assert.equal(sum(samples, 'orderly_events_published_total', (l) => l.type === 'orderly.orders.OrderPlaced.v1'), orders.length);
  assert.ok(sum(samples, 'orderly_events_consumed_total', (l) => l.rule === 'orders.saga' && l.outcome === 'ok') >= orders.length);
  assert.equal(sum(samples, 'orderly_events_consumed_total', (l) => l.outcome === 'fail'), 0);
  // The HTTP histogram uses route templates, not raw paths.
  const routes = new Set(samples.filter((s) => s.name === 'orderly_http_request_duration_seconds_count').map((s) => s.labels.route));
  assert.ok(routes.has('/v1/orders/{orderId}'), [...routes].join(', '));
  for (const route of routes) assert.ok(!/[0-9a-f]{8}-[0-9a-f]{4}/.test(route), `a raw id in route label ${route}`);
  assert.equal(sum(samples, 'orderly_http_request_duration_seconds_count', (l) => l.route === '/v1/orders' && l.method === 'POST' && l.status === '202'), orders.length);
  // Queue gauges exist per rule; nothing is dead.
  assert.ok(samples.some((s) => s.name === 'orderly_queue_depth' && s.labels.rule === 'orders.saga'));
  assert.equal(sum(samples, 'orderly_dlq_depth'), 0);
});

test('logs: one JSON object per stdout line, standard fields, spans, and no token anywhere', async () => {
  await req(srv.url, { path: '/v1/orders', token: tok });  // a request carrying a JWT
  await req(srv.url, { path: '/v1/orders', headers: { authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl' } });
  const { stdout, stderr } = srv.output();
  const lines = stdout.split('\n').filter((l) => l.length > 0);
  assert.ok(lines.length > 50, `only ${lines.length} log lines`);
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l);
    } catch {
      assert.fail(`stdout line ${i + 1} is not JSON: ${l.slice(0, 200)}`);
    }
  });
  for (const o of parsed) {
    assert.match(o.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(o.level), o.level);
    assert.equal(typeof o.service, 'string');
    assert.equal(typeof o.message, 'string');
  }
  const requests = parsed.filter((o) => o.message === 'request');
  assert.ok(requests.length >= placed.length);
  for (const r of requests) {
    assert.ok(r.request_id && r.trace_id && r.span_id && r.route && r.method && typeof r.status === 'number', JSON.stringify(r));
    assert.equal(typeof r.duration_ms, 'number');
    // The client's network, never its address: 127.0.0.1 is logged as 127.0.0.0.
    assert.equal(r.client, '127.0.0.0', JSON.stringify(r));
  }
  assert.ok(!stdout.includes('127.0.0.1"'), 'a whole client address in the logs');
  // Every hop of the traced order is a span of the caller's trace.
  const tracedSpans = parsed.filter((o) => o.message === 'span' && o.trace_id === traceId);
  assert.ok(tracedSpans.length >= traced.timeline.length - 1, `${tracedSpans.length} spans for the traced order`);
  assert.ok(tracedSpans.some((s) => s.parent_span_id === callerSpan), 'the gateway span is a child of the caller');
  const consumerSpans = tracedSpans.filter((s) => s.kind === 'consumer');
  assert.ok(consumerSpans.length > 0 && consumerSpans.every((s) => s.rule && s.event_id && s.parent_span_id));
  const handled = parsed.filter((o) => o.event_id && o.correlation_id);
  assert.ok(handled.length > 0, 'lines logged while handling an event carry event_id and correlation_id');

  const all = stdout + stderr;
  assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+/, 'a JWT in the output');
  assert.ok(!all.includes(tok.slice(20, 60)), 'the bearer token in the output');
  // The logs (stdout) never hold a payment token; stderr has only the start-up
  // banner, whose example curl uses the simulator's documented tok_ok.
  assert.doesNotMatch(stdout, /tok_[A-Za-z0-9]/, 'a payment token in the logs');
  assert.deepEqual(stderr.match(/tok_[a-z]+/g) ?? [], ['tok_ok'], 'stderr holds only the banner');
});

test('orderly orders show: the causal chain of the traced order, with the time of each hop', () => {
  const out = execFileSync(BIN, ['orders', 'show', traced.orderId, '--data-dir', dataDir], { encoding: 'utf8' });
  assert.match(out, new RegExp(`causal chain \\(\\d+ events, trace ${traceId}\\)`));
  const chain = out.slice(out.indexOf('causal chain'));
  const hops = chain.split('\n').filter((l) => /^\s*\d+ms\s+\d+ms\s+/.test(l));
  assert.ok(hops.length >= traced.timeline.length, chain);
  assert.match(hops[0], /^\s*0ms\s+0ms\s+orderly\.orders\.OrderPlaced\.v1/);
  // Causes before effects: indentation shows depth, the delivered event is deep in the tree.
  const delivered = hops.find((l) => l.includes('orderly.orders.OrderDelivered.v1'));
  assert.ok(delivered, chain);
  assert.ok(/ms {4,}orderly/.test(delivered), `OrderDelivered should be indented under its causes:\n${chain}`);
  for (const l of hops) {
    const [since, hop] = l.trim().split(/\s+/).map((x) => Number(x.replace('ms', '')));
    assert.ok(since >= 0 && hop >= 0 && hop <= since, l);
  }
});
