// Process-level behaviour: graceful shutdown with requests in flight,
// restart on the same data directory, and kill -9 during a burst, after which
// every order's effects are counted in the data directory (effects.mjs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import {
  TERMINAL, orderBody, placeOrder, pool, removeDir, req, sleep, sqlite, startServer, tempDir, token, uniq, waitAllTerminal,
  waitFor, waitTerminal,
} from './lib.mjs';
import { check as checkEffects, readDataDir } from './effects.mjs';

// One POST /v1/orders, classified instead of thrown.
async function attempt(url, tok, body) {
  try {
    const r = await req(url, { method: 'POST', path: '/v1/orders', token: tok, body, timeoutMs: 20_000 });
    return { kind: 'response', status: r.status, json: r.json, text: r.text, at: Date.now() };
  } catch (e) {
    return { kind: 'error', code: e.code, message: e.message, truncated: e.code === 'TRUNCATED' || !!e.truncated, at: Date.now() };
  }
}

function summarize(results) {
  const c = {};
  for (const r of results) {
    const k = r.kind === 'response' ? `HTTP ${r.status}` : `error ${r.code ?? r.message}`;
    c[k] = (c[k] ?? 0) + 1;
  }
  return c;
}

describe('graceful shutdown with ~50 POSTs in flight', () => {
  // Steps share state; each later step needs the earlier ones to have run.
  let dataDir, srv, tok, results, exit, accepted;

  before(async () => {
    dataDir = tempDir();
    srv = await startServer({ dataDir });
    tok = await token({ dataDir, customer: uniq('drain') });
  });
  after(async () => {
    if (srv) await srv.stop();
    removeDir(dataDir);
  });

  test('SIGTERM while requests are in flight → exit code 0', async (t) => {
    const url = srv.url;
    let responded = 0;
    let termAt = null;
    // All 50 at once; SIGTERM as soon as 10 have answered, so ~40 are in flight.
    const term = () => {
      if (termAt !== null) return;
      termAt = Date.now();
      srv.proc.kill('SIGTERM');
    };
    const inflight = [];
    for (let i = 0; i < 50; i++) {
      inflight.push(attempt(url, tok, orderBody({ items: [{ sku: 'KB-MECH-01', quantity: 1 + (i % 3) }] })).then((r) => {
        responded++;
        if (responded >= 10) term();
        return r;
      }));
    }
    results = await Promise.all(inflight);
    term(); // in case fewer than 10 answered
    exit = await Promise.race([srv.exited, sleep(15_000).then(() => null)]);
    t.diagnostic(`outcomes: ${JSON.stringify(summarize(results))}`);
    t.diagnostic(`responses completed after SIGTERM: ${results.filter((r) => r.kind === 'response' && r.at > termAt).length}`);
    assert.ok(exit, `server did not exit within 15 s of SIGTERM; stderr: ${srv.output().stderr.slice(-2000)}`);
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status; stderr: ${srv.output().stderr.slice(-2000)}`);
  });

  test('every request got a complete response or a refusal (no truncated 2xx, no 5xx)', () => {
    assert.ok(results, 'the SIGTERM step did not run');
    const bad = results.filter((r) => {
      if (r.kind === 'response') {
        if (r.status >= 200 && r.status < 300) return !(r.json && typeof r.json.orderId === 'string');
        return r.status >= 500 && r.status !== 503;
      }
      // Refused (listener closed) or reset before any response byte (never
      // accepted) are fine; truncated responses and hangs are not.
      return r.truncated || r.code === 'TIMEOUT' || !['ECONNREFUSED', 'ECONNRESET'].includes(r.code);
    });
    assert.deepEqual(bad, [], 'truncated, hung or 5xx requests');
    accepted = results.filter((r) => r.kind === 'response' && r.status === 202).map((r) => r.json.orderId);
    assert.ok(accepted.length >= 1, `no POST was accepted at all: ${JSON.stringify(summarize(results))}`);
    assert.equal(new Set(accepted).size, accepted.length, 'orderIds are unique');
  });

  test('after a restart on the same data dir, every 202 order exists', async () => {
    assert.ok(accepted, 'the earlier steps did not run');
    if (srv.proc.exitCode === null && srv.proc.signalCode === null) await srv.stop();
    srv = await startServer({ dataDir });
    const seen = new Set();
    let cursor = null;
    do {
      const q = cursor === null ? '?limit=100' : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
      const list = await req(srv.url, { path: `/v1/orders${q}`, token: tok });
      assert.equal(list.status, 200, list.text);
      for (const o of list.json.items) seen.add(o.orderId);
      cursor = list.json.nextCursor;
    } while (cursor);
    for (const id of accepted) assert.ok(seen.has(id), `${id} (answered 202) missing after the restart`);
  });

  test('...and reaches DELIVERED or CANCELLED within 30 s', async (t) => {
    assert.ok(accepted && srv.proc.exitCode === null, 'the earlier steps did not run');
    const done = await waitAllTerminal(srv.url, tok, accepted, 30_000);
    for (const o of done) assert.ok(TERMINAL.has(o.status));
    t.diagnostic(`after restart: ${JSON.stringify(done.reduce((a, o) => ({ ...a, [o.status]: (a[o.status] ?? 0) + 1 }), {}))}`);
  });
});

describe('signals', () => {
  test('SIGINT also exits 0', async () => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir });
      assert.equal((await req(srv.url, { path: '/healthz' })).status, 200);
      srv.proc.kill('SIGINT');
      const exit = await Promise.race([srv.exited, sleep(15_000).then(() => null)]);
      assert.deepEqual(exit, { code: 0, signal: null });
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });

  test('after SIGTERM the port no longer accepts connections', async () => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir });
      const url = srv.url;
      const st = await srv.stop();
      assert.equal(st.killed, false);
      assert.equal(st.code, 0);
      await assert.rejects(req(url, { path: '/healthz', timeoutMs: 3000 }), (e) => e.code === 'ECONNREFUSED');
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });
});

describe('restart on the same data directory', () => {
  test('orders, statuses, timelines, products edited via PUT, and keys are kept', async () => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir });
      const cust = uniq('keep');
      const tok = await token({ dataDir, customer: cust });
      const admin = await token({ dataDir, customer: uniq('admin'), admin: true });
      const jwks1 = (await req(srv.url, { path: '/.well-known/jwks.json' })).json;

      const put = await req(srv.url, { method: 'PUT', path: '/v1/products/LMP-DESK-L', token: admin,
        body: { name: 'LED desk lamp, warm white', price: { amount: 3333, currency: 'GBP' }, stock: 42 } });
      assert.equal(put.status, 200, put.text);
      const ok = await placeOrder(srv.url, tok, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] });
      const dec = await placeOrder(srv.url, tok, { paymentToken: 'tok_decline' });
      assert.equal(ok.status, 202, ok.text);
      assert.equal(dec.status, 202, dec.text);
      const okDone = await waitTerminal(srv.url, tok, ok.json.orderId);
      const decDone = await waitTerminal(srv.url, tok, dec.json.orderId);
      assert.equal(okDone.status, 'DELIVERED');
      assert.equal(decDone.status, 'CANCELLED');
      // Let the stragglers land (saga timer at 2 s, stock release after the
      // cancellation) so the snapshot is stable.
      await sleep(3000);
      const snap1 = await req(srv.url, { path: `/v1/orders/${ok.json.orderId}`, token: tok });
      const snap2 = await req(srv.url, { path: `/v1/orders/${dec.json.orderId}`, token: tok });
      const list1 = (await req(srv.url, { path: '/v1/orders', token: tok })).json;
      const products1 = (await req(srv.url, { path: '/v1/products' })).json;

      const st = await srv.stop();
      assert.deepEqual({ code: st.code, killed: st.killed }, { code: 0, killed: false });
      srv = await startServer({ dataDir });

      const jwks2 = (await req(srv.url, { path: '/.well-known/jwks.json' })).json;
      assert.deepEqual(jwks2, jwks1, 'the key pair survives a restart');
      const g1 = await req(srv.url, { path: `/v1/orders/${ok.json.orderId}`, token: tok });
      assert.equal(g1.status, 200, `old token or order lost: ${g1.text}`);
      assert.deepEqual(g1.json, snap1.json);
      const g2 = await req(srv.url, { path: `/v1/orders/${dec.json.orderId}`, token: tok });
      assert.deepEqual(g2.json, snap2.json);
      assert.equal(g2.json.cancellationReason, 'payment_declined');
      assert.deepEqual((await req(srv.url, { path: '/v1/orders', token: tok })).json, list1);
      const p = await req(srv.url, { path: '/v1/products/LMP-DESK-L' });
      assert.equal(p.json.name, 'LED desk lamp, warm white');
      assert.deepEqual(p.json.price, { amount: 3333, currency: 'GBP' });
      assert.equal(p.json.available, 42);
      assert.deepEqual((await req(srv.url, { path: '/v1/products' })).json, products1);
      // The orders service still prices with the edited catalogue.
      const n = await placeOrder(srv.url, tok, { items: [{ sku: 'LMP-DESK-L', quantity: 2 }] });
      assert.equal(n.status, 202, n.text);
      assert.equal(n.json.total.amount, 6666);
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });
});

describe('kill -9 during a burst of 100 POSTs (concurrency 10)', () => {
  // A long saga timeout, so a lost event shows up as a stuck order instead of
  // being papered over by the timeout.
  const args = ['--saga-timeout', '60', '--carrier-delay', '0.2'];
  // Only this describe's orders use this SKU, so its stock is theirs to count.
  const SKU = 'CB-USBC-1M';
  let dataDir, srv, tok, accepted, stock, orders, effects;

  before(async () => {
    dataDir = tempDir();
    srv = await startServer({ dataDir, args });
    tok = await token({ dataDir, customer: uniq('crash') });
    const p = await req(srv.url, { path: `/v1/products/${SKU}` });
    assert.equal(p.status, 200, p.text);
    stock = { [SKU]: p.json.available }; // on hand, nothing reserved yet
  });
  after(async () => {
    if (srv) await srv.stop();
    removeDir(dataDir);
  });

  test('SIGKILL after 40 orders were accepted', async (t) => {
    const url = srv.url;
    let accepted202 = 0;
    let killed = false;
    const tokens = ['tok_ok', 'tok_ok', 'tok_decline', 'tok_flaky'];
    const results = await pool(Array.from({ length: 100 }, (_, i) => i), 10, async (i) => {
      if (killed) return { kind: 'skipped' };
      const r = await attempt(url, tok, orderBody({ paymentToken: tokens[i % tokens.length], items: [{ sku: SKU, quantity: 1 + (i % 5) }] }));
      if (r.kind === 'response' && r.status === 202 && ++accepted202 >= 40 && !killed) {
        killed = true;
        srv.proc.kill('SIGKILL');
      }
      return r;
    });
    await srv.exited;
    t.diagnostic(`outcomes: ${JSON.stringify(summarize(results.filter((r) => r.kind !== 'skipped')))}`);
    accepted = results.filter((r) => r.kind === 'response' && r.status === 202).map((r) => r.json?.orderId);
    assert.ok(accepted.length >= 40, `only ${accepted.length} accepted`);
    for (const id of accepted) assert.equal(typeof id, 'string');
    const weird = results.filter((r) => r.kind === 'response' && r.status !== 202);
    assert.deepEqual(weird, [], 'non-202 responses before the kill');
  });

  test('after a restart, every 202 order exists', async () => {
    assert.ok(accepted, 'the kill step did not run');
    srv = await startServer({ dataDir, args });
    for (const id of accepted) {
      const r = await req(srv.url, { path: `/v1/orders/${id}`, token: tok });
      assert.equal(r.status, 200, `${id} (answered 202 before the kill): ${r.status} ${r.text}`);
    }
  });

  test('...and reaches DELIVERED or CANCELLED within 30 s', async (t) => {
    assert.ok(accepted && srv.proc.exitCode === null, 'the earlier steps did not run');
    // The customer's orders: the 202s, and any placed whose answer the kill cut off.
    const ids = new Set(accepted);
    for (const id of await listOrderIds(srv.url, tok)) ids.add(id);
    const t0 = Date.now();
    orders = await waitAllTerminal(srv.url, tok, [...ids], 30_000);
    t.diagnostic(`${orders.length} orders (${orders.length - accepted.length} placed without a 202), all terminal ` +
      `${Date.now() - t0} ms after restart: ${JSON.stringify(orders.reduce((a, o) => {
        const k = `${o.status}${o.cancellationReason ? `/${o.cancellationReason}` : ''}`;
        return { ...a, [k]: (a[k] ?? 0) + 1 };
      }, {}))}`);
    for (const o of orders) assert.ok(TERMINAL.has(o.status));
    assert.equal((await req(srv.url, { path: '/healthz' })).status, 200);
  });

  // The crash must neither lose a step nor apply one twice. Counted where a
  // second application would show: each committed event once in the bus
  // archive (fresh ids, so two captures are two events), the provider's ledger,
  // the stock, the services' records, and nothing left over.
  test('every order caused each effect exactly as often as its end state says', async (t) => {
    assert.ok(orders, 'the earlier steps did not run');
    // Compensations and notifications may still be on their way after the
    // orders are terminal; the saga timers (60 s) stay queued.
    await waitQuiet(srv.url, await token({ dataDir, customer: uniq('ops'), admin: true }));
    const st = await srv.stop();
    assert.deepEqual({ code: st.code, killed: st.killed }, { code: 0, killed: false });
    effects = await readDataDir(dataDir);
    const violations = checkEffects(effects, { orders, stock });
    t.diagnostic(`${effects.archive.length} archived events; ${SKU} on hand ${effects.products[SKU]?.onHand} of ${stock[SKU]}`);
    assert.deepEqual(violations, [], `effects applied twice, lost or left over:\n${violations.join('\n')}`);
  });

  // The check above can fail: the same data with one capture doubled, one
  // cancelled order captured, and one stock commit applied twice.
  test('self-test: the effect check sees a doubled capture, a capture of a cancelled order and a doubled commit', async (t) => {
    assert.ok(effects, 'the effect check did not run');
    const delivered = orders.find((o) => o.status === 'DELIVERED');
    const cancelled = orders.find((o) => o.status === 'CANCELLED');
    assert.ok(delivered && cancelled, 'the run had no DELIVERED or no CANCELLED order to doctor');
    const copy = tempDir('orderly-e2e-doctored-');
    try {
      cpSync(dataDir, copy, { recursive: true });
      const capture = (o) => {
        const id = randomUUID();
        const body = { specversion: '1.0', id, source: 'orderly.payments', type: 'orderly.payments.PaymentCaptured.v1',
          subject: o.orderId, time: new Date().toISOString(), datacontenttype: 'application/json',
          data: { orderId: o.orderId, paymentId: randomUUID(), amount: o.total } };
        return ['INSERT INTO archive(event_id, type, archived_at, body) VALUES (?, ?, ?, ?)',
          [id, body.type, Date.now(), JSON.stringify(body)]];
      };
      await sqlite(join(copy, 'bus.db'), [capture(delivered), capture(cancelled)]);
      const q = delivered.items.filter((l) => l.sku === SKU).reduce((a, l) => a + l.quantity, 0);
      await sqlite(join(copy, 'inventory.db'), [[
        "UPDATE items SET attrs = json_set(attrs, '$.onHand', json_extract(attrs, '$.onHand') - ?) WHERE pk = 'PRODUCT' AND sk = ?",
        [q, SKU]]]);
      const v = checkEffects(await readDataDir(copy), { orders, stock });
      for (const x of v) t.diagnostic(`doctored copy: ${x}`);
      const has = (re) => v.some((x) => re.test(x));
      assert.ok(has(new RegExp(`^${delivered.orderId} .*PaymentCaptured ×2`)), `doubled capture not seen:\n${v.join('\n')}`);
      assert.ok(has(new RegExp(`^${cancelled.orderId} .*PaymentCaptured ×1, expected none`)), `capture of a cancelled order not seen:\n${v.join('\n')}`);
      assert.ok(has(new RegExp(`^${SKU}: onHand`)), `doubled stock commit not seen:\n${v.join('\n')}`);
      const others = v.filter((x) => !x.startsWith(delivered.orderId) && !x.startsWith(cancelled.orderId) && !x.startsWith(SKU));
      assert.deepEqual(others, [], 'violations about what was not doctored');
    } finally {
      removeDir(copy);
    }
  });
});

// Every order id of the customer token's owner, all pages.
async function listOrderIds(url, tok) {
  const ids = [];
  let cursor = null;
  do {
    const q = cursor === null ? '?limit=100' : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
    const list = await req(url, { path: `/v1/orders${q}`, token: tok });
    assert.equal(list.status, 200, list.text);
    for (const o of list.json.items) ids.push(o.orderId);
    cursor = list.json.nextCursor;
  } while (cursor);
  return ids;
}

// Waits until every queue but the saga timers' has been empty (nothing ready,
// delayed or in flight) on three scrapes in a row, 300 ms apart.
async function waitQuiet(url, admin, timeoutMs = 20_000) {
  let quiet = 0;
  let busy = [];
  try {
    await waitFor(async () => {
      const m = await req(url, { path: '/metrics', token: admin });
      assert.equal(m.status, 200, m.text);
      busy = [...m.text.matchAll(/^orderly_queue_depth\{rule="([^"]+)"\} (\S+)$/gm)]
        .filter(([, rule, n]) => rule !== 'orders.timers' && Number(n) !== 0)
        .map(([, rule, n]) => `${rule}=${n}`);
      quiet = busy.length === 0 ? quiet + 1 : 0;
      return quiet >= 3;
    }, timeoutMs, { intervalMs: 300, what: 'the queues to drain' });
  } catch (e) {
    e.message += `; still busy: ${busy.join(', ')}`;
    throw e;
  }
}
