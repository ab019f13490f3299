// Whole order lifecycles through the HTTP API: every payment token, out of
// stock, customer cancellation before dispatch, and 409s after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, placeOrder, removeDir, req, startServer, tempDir, token, uniq, waitAllTerminal, waitFor, waitForOrder, waitTerminal,
} from './lib.mjs';

// Timeline entries carry the event type; accept the short name or the full
// CloudEvents type (orderly.orders.OrderPlaced.v1).
const typeIs = (t, name) => t === name || new RegExp(`(^|\\.)${name}(\\.v\\d+)?$`).test(t);
const hasType = (o, name) => o.timeline.some((e) => typeIs(e.type, name));

describe('lifecycles (fast carrier)', () => {
  let srv, dataDir, tok, admin;

  before(async () => {
    dataDir = tempDir();
    srv = await startServer({ dataDir, args: ['--saga-timeout', '2', '--carrier-delay', '0.2'] });
    tok = await token({ dataDir, customer: uniq('life') });
    admin = await token({ dataDir, customer: uniq('admin'), admin: true });
  });
  after(async () => {
    if (srv) {
      const r = await srv.stop();
      assert.equal(r.killed, false, 'server did not exit within 10 s of SIGTERM');
    }
    removeDir(dataDir);
  });

  test('tok_ok → DELIVERED with shipment and the full timeline', async () => {
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'KB-MECH-01', quantity: 1 }, { sku: 'CB-USBC-1M', quantity: 2 }] });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'DELIVERED', JSON.stringify(o));
    assert.equal(o.cancellationReason, undefined);
    assert.ok(o.shipment, `shipment missing: ${JSON.stringify(o)}`);
    for (const f of ['shipmentId', 'carrier', 'trackingNumber']) assert.equal(typeof o.shipment[f], 'string', `shipment.${f}`);
    const types = o.timeline.map((e) => e.type);
    for (const name of ['OrderPlaced', 'OrderConfirmed', 'OrderShipped', 'OrderDelivered'])
      assert.ok(hasType(o, name), `timeline lacks ${name}: ${types.join(', ')}`);
    const idx = (name) => o.timeline.findIndex((e) => typeIs(e.type, name));
    assert.ok(idx('OrderPlaced') < idx('OrderConfirmed') && idx('OrderConfirmed') < idx('OrderShipped') && idx('OrderShipped') < idx('OrderDelivered'),
      `timeline out of order: ${types.join(', ')}`);
    assert.ok(!hasType(o, 'OrderCancelled'), types.join(', '));
    const ids = o.timeline.map((e) => e.eventId);
    assert.equal(new Set(ids).size, ids.length, 'timeline event ids are unique');
    assert.equal(o.total.amount, 8999 + 2 * 799);
  });

  test('tok_decline → CANCELLED payment_declined', async () => {
    const p = await placeOrder(srv.url, tok, { paymentToken: 'tok_decline' });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'CANCELLED', JSON.stringify(o));
    assert.equal(o.cancellationReason, 'payment_declined');
    assert.ok(hasType(o, 'OrderCancelled'), o.timeline.map((e) => e.type).join(', '));
    assert.equal(o.shipment, undefined);
  });

  test('tok_timeout → CANCELLED timeout after --saga-timeout (2 s)', async () => {
    const t0 = Date.now();
    const p = await placeOrder(srv.url, tok, { paymentToken: 'tok_timeout' });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId, 15_000);
    const dt = Date.now() - t0;
    assert.equal(o.status, 'CANCELLED', JSON.stringify(o));
    assert.equal(o.cancellationReason, 'timeout');
    assert.ok(dt >= 1800, `cancelled after ${dt} ms, before the 2 s saga timeout`);
  });

  test('tok_flaky → DELIVERED after retries', async () => {
    const p = await placeOrder(srv.url, tok, { paymentToken: 'tok_flaky' });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId, 20_000);
    // The provider fails twice before approving; the bus retries (200 ms
    // base backoff), well within the 2 s saga timeout.
    assert.equal(o.status, 'DELIVERED', JSON.stringify(o));
  });

  test('LTD-ED-01 (stock 3) × 5 → CANCELLED out_of_stock; stock unchanged', async () => {
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'LTD-ED-01', quantity: 5 }] });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'CANCELLED', JSON.stringify(o));
    assert.equal(o.cancellationReason, 'out_of_stock');
    const prod = await req(srv.url, { path: '/v1/products/LTD-ED-01' });
    assert.equal(prod.status, 200);
    assert.equal(prod.json.available, 3);
  });

  test('all or nothing: an order with one unavailable line reserves nothing', async () => {
    const before = (await req(srv.url, { path: '/v1/products/MS-WL-02' })).json.available;
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'MS-WL-02', quantity: 1 }, { sku: 'LTD-ED-01', quantity: 4 }] });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'CANCELLED');
    assert.equal(o.cancellationReason, 'out_of_stock');
    assert.equal((await req(srv.url, { path: '/v1/products/MS-WL-02' })).json.available, before);
  });

  test('delivery reduces availability by the ordered quantity', async () => {
    const before = (await req(srv.url, { path: '/v1/products/WC-1080P' })).json.available;
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'WC-1080P', quantity: 7 }] });
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'DELIVERED');
    assert.equal((await req(srv.url, { path: '/v1/products/WC-1080P' })).json.available, before - 7);
  });

  test('cancel after delivery → 409, order stays DELIVERED', async () => {
    const p = await placeOrder(srv.url, tok);
    assert.equal(p.status, 202, p.text);
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'DELIVERED');
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok }), 409, 'owner');
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: admin }), 409, 'admin');
    const again = await req(srv.url, { path: `/v1/orders/${p.json.orderId}`, token: tok });
    assert.equal(again.json.status, 'DELIVERED');
  });

  test('cancel after a system cancellation → 409, reason kept', async () => {
    const p = await placeOrder(srv.url, tok, { paymentToken: 'tok_decline' });
    const o = await waitTerminal(srv.url, tok, p.json.orderId);
    assert.equal(o.status, 'CANCELLED');
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok }), 409);
    const again = await req(srv.url, { path: `/v1/orders/${p.json.orderId}`, token: tok });
    assert.equal(again.json.cancellationReason, 'payment_declined');
  });

  test('a mix of 20 orders all reach the expected terminal state', async () => {
    const plan = [];
    for (let i = 0; i < 5; i++) plan.push(['tok_ok', 'DELIVERED', undefined], ['tok_decline', 'CANCELLED', 'payment_declined'],
      ['tok_flaky', 'DELIVERED', undefined], ['tok_timeout', 'CANCELLED', 'timeout']);
    const placed = await Promise.all(plan.map(([pt]) => placeOrder(srv.url, tok, { paymentToken: pt })));
    for (const p of placed) assert.equal(p.status, 202, p.text);
    const done = await waitAllTerminal(srv.url, tok, placed.map((p) => p.json.orderId), 30_000);
    done.forEach((o, i) => {
      assert.equal(o.status, plan[i][1], `${plan[i][0]}: ${JSON.stringify(o)}`);
      assert.equal(o.cancellationReason, plan[i][2], `${plan[i][0]}: ${JSON.stringify(o)}`);
    });
  });
});

describe('customer cancellation before dispatch (slow carrier)', () => {
  let srv, dataDir, tok, other, admin;

  before(async () => {
    dataDir = tempDir();
    srv = await startServer({ dataDir, args: ['--saga-timeout', '30', '--carrier-delay', '30'] });
    tok = await token({ dataDir, customer: uniq('slow') });
    other = await token({ dataDir, customer: uniq('other') });
    admin = await token({ dataDir, customer: uniq('admin'), admin: true });
  });
  after(async () => {
    if (srv) {
      const r = await srv.stop();
      assert.equal(r.killed, false, 'server did not exit within 10 s of SIGTERM');
    }
    removeDir(dataDir);
  });

  test('CONFIRMED order → cancel → 202 requested; shipping stops the shipment → CANCELLED customer_request; stock released', async () => {
    const before = (await req(srv.url, { path: '/v1/products/MN-27-4K' })).json.available;
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'MN-27-4K', quantity: 3 }] });
    assert.equal(p.status, 202, p.text);
    await waitForOrder(srv.url, tok, p.json.orderId, (o) => o.status === 'CONFIRMED', 10_000, 'CONFIRMED');
    const reserved = (await req(srv.url, { path: '/v1/products/MN-27-4K' })).json.available;
    assert.equal(reserved, before - 3, 'a confirmed order holds its reservation');
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: other }), 404, 'not owner');
    // Past confirmation the cancel is a request that shipping decides (the pivot).
    const c = await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok });
    assert.equal(c.status, 202, c.text);
    assert.equal(c.json.orderId, p.json.orderId);
    assert.equal(c.json.status, 'CONFIRMED');
    assert.equal(c.json.cancellationRequested, true);
    assert.equal(c.json.cancellationReason, undefined);
    const again = await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok });
    assert.ok(again.status === 202 || again.status === 409, `a repeated request: ${again.status}`);
    const g = await waitForOrder(srv.url, tok, p.json.orderId, (o) => o.status === 'CANCELLED', 10_000, 'CANCELLED');
    assert.equal(g.cancellationReason, 'customer_request');
    assert.equal(g.cancellationRequested, undefined);
    for (const t of ['OrderCancellationRequested', 'ShipmentCancelled', 'OrderCancelled'])
      assert.ok(hasType(g, t), `${t} in ${g.timeline.map((e) => e.type).join(', ')}`);
    // Asked again once cancelled at the customer's request: the same answer, nothing new.
    const late = await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok });
    assert.equal(late.status, 202, late.text);
    assert.equal(late.json.status, 'CANCELLED');
    assert.equal(late.json.cancellationReason, 'customer_request');
    const after = (await req(srv.url, { path: `/v1/orders/${p.json.orderId}`, token: tok })).json;
    assert.equal(after.timeline.length, g.timeline.length, 'the repeated cancel added nothing to the timeline');
    // The reservation is released (asynchronously).
    const deadline = Date.now() + 10_000;
    let avail;
    do {
      avail = (await req(srv.url, { path: '/v1/products/MN-27-4K' })).json.available;
      if (avail === before) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    assert.equal(avail, before, 'stock released after cancellation');
  });

  test('PENDING order (tok_timeout) → cancel → 202 CANCELLED customer_request', async () => {
    const p = await placeOrder(srv.url, tok, { paymentToken: 'tok_timeout' });
    assert.equal(p.status, 202, p.text);
    const c = await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: tok });
    assert.equal(c.status, 202, c.text);
    assert.equal(c.json.status, 'CANCELLED');
    assert.equal(c.json.cancellationReason, 'customer_request');
  });

  test('PUT stock below what is reserved → 409', async () => {
    // tok_timeout leaves the payment pending, so the reservation is held
    // (a confirmed order's reservation is committed once the shipment exists).
    const before = (await req(srv.url, { path: '/v1/products/CHR-ERG-01' })).json.available;
    const p = await placeOrder(srv.url, tok, { items: [{ sku: 'CHR-ERG-01', quantity: 5 }], paymentToken: 'tok_timeout' });
    assert.equal(p.status, 202, p.text);
    const prod = await waitFor(async () => {
      const r = (await req(srv.url, { path: '/v1/products/CHR-ERG-01' })).json;
      return r.available === before - 5 ? r : false;
    }, 10_000, { what: 'the reservation to show in available' });
    assert.equal((await req(srv.url, { path: `/v1/orders/${p.json.orderId}`, token: tok })).json.status, 'PENDING');
    const put = (stock) => req(srv.url, { method: 'PUT', path: '/v1/products/CHR-ERG-01', token: admin,
      body: { name: prod.name, price: prod.price, stock } });
    assertProblem(await put(4), 409, 'stock 4 < reserved 5');
    const ok = await put(5);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.available, 0);
  });

  test('admin can cancel a customer order before dispatch', async () => {
    const p = await placeOrder(srv.url, tok);
    assert.equal(p.status, 202, p.text);
    await waitForOrder(srv.url, tok, p.json.orderId, (o) => o.status === 'CONFIRMED', 10_000, 'CONFIRMED');
    const c = await req(srv.url, { method: 'POST', path: `/v1/orders/${p.json.orderId}/cancel`, token: admin });
    assert.equal(c.status, 202, c.text);
    assert.equal(c.json.status, 'CONFIRMED');
    assert.equal(c.json.cancellationRequested, true);
    const g = await waitForOrder(srv.url, tok, p.json.orderId, (o) => o.status === 'CANCELLED', 10_000, 'CANCELLED');
    assert.equal(g.cancellationReason, 'customer_request');
  });
});
