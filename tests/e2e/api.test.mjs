// Every endpoint of the HTTP gateway on one fresh server: health, JWKS,
// products, orders (place, get, list, cancel), admin, 404/405, request ids.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import net from 'node:net';
import {
  AUDIENCE, ISSUER, assertErrorPath, assertProblem, decodeJwt, placeOrder, removeDir, req,
  serverPublicPem, startServer, tempDir, token, uniq, waitFor, waitTerminal, sleep,
} from './lib.mjs';

const CATALOGUE_SIZE = 20;
const PRICES = { 'KB-MECH-01': 8999, 'MS-WL-02': 2499, 'CB-USBC-1M': 799 };

let srv, dataDir, alice, bob, admin, aliceId, bobId;

before(async () => {
  dataDir = tempDir();
  srv = await startServer({ dataDir });
  aliceId = uniq('alice');
  bobId = uniq('bob');
  [alice, bob, admin] = await Promise.all([
    token({ dataDir, customer: aliceId }),
    token({ dataDir, customer: bobId }),
    token({ dataDir, customer: uniq('admin'), admin: true }),
  ]);
});

after(async () => {
  if (srv) {
    const r = await srv.stop();
    assert.equal(r.killed, false, 'server did not exit within 10 s of SIGTERM');
  }
  removeDir(dataDir);
});

describe('health and discovery', () => {
  test('GET /healthz → 200 {"status":"ok"}', async () => {
    const r = await req(srv.url, { path: '/healthz' });
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /^application\/json\b/);
    assert.deepEqual(r.json, { status: 'ok' });
  });

  test('GET /readyz → 200 ready, with the stores, the workers and the bus backlog', async () => {
    const r = await req(srv.url, { path: '/readyz' });
    assert.equal(r.status, 200);
    assert.equal(r.json.status, 'ready');
    assert.equal(r.json.workers, 'running');
    assert.deepEqual(r.json.stores, { orders: 'ok', inventory: 'ok', payments: 'ok', shipping: 'ok', notifications: 'ok' });
    assert.equal(typeof r.json.bus.backlog, 'number');
    assert.ok(r.json.bus.backlog <= r.json.bus.maxBacklog);
    assert.equal(r.json.bus.relay, 'ok');
    assert.equal(r.json.bus.relayErrors, 0);
    assert.equal(r.json.bus.workers, 'ok');
    assert.equal(r.json.bus.workerErrors, 0);
  });

  test('GET /.well-known/jwks.json serves the RS256 public key that verifies CLI tokens', async () => {
    const r = await req(srv.url, { path: '/.well-known/jwks.json' });
    assert.equal(r.status, 200, r.text);
    assert.ok(Array.isArray(r.json?.keys) && r.json.keys.length >= 1, r.text);
    const k = r.json.keys[0];
    assert.equal(k.kty, 'RSA');
    assert.equal(k.alg, 'RS256');
    assert.equal(k.use, 'sig');
    for (const f of ['kid', 'n', 'e']) assert.equal(typeof k[f], 'string', `jwk.${f}`);
    assert.match(k.n, /^[A-Za-z0-9_-]+$/, 'n is base64url without padding');
    assert.match(k.e, /^[A-Za-z0-9_-]+$/, 'e is base64url without padding');
    // Same key as the PEM in the data dir.
    const fromJwk = createPublicKey({ key: { kty: k.kty, n: k.n, e: k.e }, format: 'jwk' });
    const fromPem = createPublicKey(serverPublicPem(dataDir));
    assert.equal(fromJwk.export({ type: 'spki', format: 'pem' }), fromPem.export({ type: 'spki', format: 'pem' }));
    // And it verifies a token minted by `orderly token`.
    const [h, p, s] = alice.split('.');
    const ok = cryptoVerify('sha256', Buffer.from(`${h}.${p}`), fromJwk, Buffer.from(s, 'base64url'));
    assert.ok(ok, 'CLI token does not verify with the JWKS key');
    const { header } = decodeJwt(alice);
    assert.equal(header.alg, 'RS256');
    if (header.kid !== undefined) assert.equal(header.kid, k.kid, 'token kid matches the JWKS kid');
  });
});

describe('orderly token', () => {
  test('claims: iss, aud, sub, default scopes, exp in the future', () => {
    const { payload } = decodeJwt(alice);
    assert.equal(payload.iss, ISSUER);
    assert.ok(payload.aud === AUDIENCE || (Array.isArray(payload.aud) && payload.aud.includes(AUDIENCE)), `aud ${payload.aud}`);
    assert.equal(payload.sub, aliceId);
    assert.deepEqual(String(payload.scope).split(' ').sort(), ['orders:read', 'orders:write']);
    assert.ok(Number.isInteger(payload.exp) && payload.exp > Date.now() / 1000, `exp ${payload.exp}`);
  });

  test('--admin adds the admin scope', () => {
    const { payload } = decodeJwt(admin);
    assert.deepEqual(String(payload.scope).split(' ').sort(), ['admin', 'orders:read', 'orders:write']);
  });

  test('--scope replaces the defaults; --ttl sets exp', async () => {
    const t = await token({ dataDir, customer: 'c-scope', scopes: ['orders:read'], ttl: 120 });
    const { payload } = decodeJwt(t);
    assert.equal(payload.scope, 'orders:read');
    const nowS = Date.now() / 1000;
    assert.ok(payload.exp > nowS + 100 && payload.exp < nowS + 140, `exp ${payload.exp} vs now ${nowS} and ttl 120`);
  });
});

describe('products', () => {
  test('GET /v1/products is public and lists the 20 seeded products', async () => {
    const r = await req(srv.url, { path: '/v1/products' });
    assert.equal(r.status, 200, r.text);
    const items = r.json?.items;
    assert.ok(Array.isArray(items), r.text);
    assert.equal(items.length, CATALOGUE_SIZE);
    for (const p of items) {
      assert.match(p.sku, /^[A-Z0-9][A-Z0-9-]{0,31}$/);
      assert.equal(typeof p.name, 'string');
      assert.ok(Number.isInteger(p.price?.amount) && p.price.amount > 0, JSON.stringify(p));
      assert.equal(p.price.currency, 'GBP');
      assert.ok(Number.isInteger(p.available) && p.available >= 0, JSON.stringify(p));
    }
    const bySku = Object.fromEntries(items.map((p) => [p.sku, p]));
    for (const [sku, amount] of Object.entries(PRICES)) assert.equal(bySku[sku]?.price.amount, amount, sku);
    assert.equal(bySku['LTD-ED-01']?.available, 3);
    assert.equal(new Set(items.map((p) => p.sku)).size, CATALOGUE_SIZE, 'skus are unique');
  });

  test('GET /v1/products/{sku} → one product; unknown → 404 problem', async () => {
    const r = await req(srv.url, { path: '/v1/products/MS-WL-02' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.sku, 'MS-WL-02');
    assert.deepEqual(r.json.price, { amount: 2499, currency: 'GBP' });
    assert.equal(typeof r.json.name, 'string');
    assert.ok(Number.isInteger(r.json.available));
    assertProblem(await req(srv.url, { path: '/v1/products/NOPE-404' }), 404);
    assertProblem(await req(srv.url, { path: '/v1/products/kb-mech-01' }), 404, 'lower-case sku');
  });

  test('PUT /v1/products/{sku} (admin) → 200 and GET reflects it', async () => {
    const body = { name: 'Bluetooth speaker, mk II', price: { amount: 5555, currency: 'GBP' }, stock: 123 };
    const r = await req(srv.url, { method: 'PUT', path: '/v1/products/SPK-BT-01', token: admin, body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.sku, 'SPK-BT-01');
    assert.equal(r.json.name, body.name);
    assert.deepEqual(r.json.price, body.price);
    assert.equal(r.json.available, 123);
    const g = await req(srv.url, { path: '/v1/products/SPK-BT-01' });
    assert.equal(g.status, 200);
    assert.equal(g.json.name, body.name);
    assert.deepEqual(g.json.price, body.price);
    assert.equal(g.json.available, 123);
  });

  test('a new price applies to orders placed afterwards (totals come from the catalogue)', async () => {
    const body = { name: 'Tablet stylus', price: { amount: 7001, currency: 'GBP' }, stock: 400 };
    const r = await req(srv.url, { method: 'PUT', path: '/v1/products/TAB-STY-01', token: admin, body });
    assert.equal(r.status, 200, r.text);
    // The orders service learns prices from ProductUpdated events: eventually consistent.
    await waitFor(async () => {
      const o = await placeOrder(srv.url, alice, { items: [{ sku: 'TAB-STY-01', quantity: 2 }] });
      assert.equal(o.status, 202, o.text);
      return o.json.total.amount === 14002 && o.json.items[0].unitPrice.amount === 7001;
    }, 10_000, { intervalMs: 300, what: 'the new price in orders' });
  });

  test('PUT /v1/products/{sku}: non-admin → 403, no token → 401', async () => {
    const body = { name: 'x', price: { amount: 1, currency: 'GBP' }, stock: 1 };
    assertProblem(await req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', token: alice, body }), 403);
    const n = await req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', body });
    assertProblem(n, 401);
    assert.match(n.headers['www-authenticate'] ?? '', /^Bearer\b/);
    const g = await req(srv.url, { path: '/v1/products/MS-WL-02' });
    assert.equal(g.json.price.amount, 2499, 'rejected PUTs change nothing');
  });

  test('PUT /v1/products/{sku} with bad bodies → 400/422 problems', async () => {
    const put = (body, raw) => req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', token: admin,
      ...(raw !== undefined ? { rawBody: raw, headers: { 'Content-Type': 'application/json' } } : { body }) });
    assertProblem(await put(undefined, '{"name":'), 400, 'malformed JSON');
    const neg = await put({ name: 'Mouse', price: { amount: -1, currency: 'GBP' }, stock: 1 });
    assertProblem(neg, 422, 'negative price');
    assertErrorPath(neg, '$.price.amount');
    const st = await put({ name: 'Mouse', price: { amount: 2499, currency: 'GBP' }, stock: 'lots' });
    assertProblem(st, 422, 'string stock');
    assertErrorPath(st, '$.stock');
    const g = await req(srv.url, { path: '/v1/products/MS-WL-02' });
    assert.equal(g.json.price.amount, 2499);
  });
});

describe('orders', () => {
  let placed;

  test('POST /v1/orders → 202 with Location, PENDING, catalogue prices and total', async () => {
    const r = await placeOrder(srv.url, alice, { items: [{ sku: 'KB-MECH-01', quantity: 1 }, { sku: 'MS-WL-02', quantity: 2 }] });
    assert.equal(r.status, 202, r.text);
    assert.match(r.headers['content-type'] ?? '', /^application\/json\b/);
    assert.equal(typeof r.json.orderId, 'string');
    assert.ok(r.json.orderId.length > 0);
    assert.equal(r.headers.location, `/v1/orders/${r.json.orderId}`);
    assert.equal(r.json.status, 'PENDING');
    assert.deepEqual(r.json.total, { amount: 8999 + 2 * 2499, currency: 'GBP' });
    assert.deepEqual(r.json.items, [
      { sku: 'KB-MECH-01', quantity: 1, unitPrice: { amount: 8999, currency: 'GBP' } },
      { sku: 'MS-WL-02', quantity: 2, unitPrice: { amount: 2499, currency: 'GBP' } },
    ]);
    placed = r.json;
  });

  test('client-sent total and unitPrice are ignored', async () => {
    const body = {
      items: [{ sku: 'CB-USBC-1M', quantity: 3, unitPrice: { amount: 1, currency: 'GBP' } }],
      paymentToken: 'tok_ok',
      shippingAddress: { name: 'Ada', line1: '1 Loop Rd', line2: 'Flat 2', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' },
      total: { amount: 1, currency: 'GBP' },
    };
    const r = await req(srv.url, { method: 'POST', path: '/v1/orders', token: alice, body });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.total, { amount: 3 * 799, currency: 'GBP' });
    assert.deepEqual(r.json.items[0].unitPrice, { amount: 799, currency: 'GBP' });
    const o = await req(srv.url, { path: `/v1/orders/${r.json.orderId}`, token: alice });
    assert.equal(o.status, 200);
    assert.equal(o.json.total.amount, 3 * 799);
    assert.equal(o.json.shippingAddress.line2, 'Flat 2');
  });

  test('boundaries accepted: quantity 1000, quantity 1.0, 64-char payment token, charset param', async () => {
    const q = await placeOrder(srv.url, alice, { items: [{ sku: 'CB-USBC-1M', quantity: 1000 }] });
    assert.equal(q.status, 202, q.text);
    assert.equal(q.json.total.amount, 799_000);
    const f = await req(srv.url, { method: 'POST', path: '/v1/orders', token: alice,
      rawBody: '{"items":[{"sku":"MS-WL-02","quantity":1.0}],"paymentToken":"tok_ok","shippingAddress":{"name":"Ada","line1":"1 Loop Rd","city":"Leeds","postalCode":"LS1 1AA","country":"GB"}}',
      headers: { 'Content-Type': 'application/json' } });
    assert.equal(f.status, 202, f.text);
    assert.equal(f.json.items[0].quantity, 1);
    const t = await placeOrder(srv.url, alice, { paymentToken: 'x'.repeat(64) });
    assert.equal(t.status, 202, t.text);
    const c = await req(srv.url, { method: 'POST', path: '/v1/orders', token: alice,
      body: { items: [{ sku: 'MS-WL-02', quantity: 1 }], paymentToken: 'tok_ok', shippingAddress: { name: 'Ada', line1: '1 Loop Rd', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' } },
      headers: { 'Content-Type': 'application/json; charset=utf-8' } });
    assert.equal(c.status, 202, c.text);
  });

  test('GET /v1/orders/{id} (owner) → the full order', async () => {
    const r = await req(srv.url, { path: `/v1/orders/${placed.orderId}`, token: alice });
    assert.equal(r.status, 200, r.text);
    const o = r.json;
    assert.equal(o.orderId, placed.orderId);
    assert.equal(o.customerId, aliceId);
    assert.ok(['PENDING', 'CONFIRMED', 'SHIPPED', 'DELIVERED', 'CANCELLED'].includes(o.status), o.status);
    assert.deepEqual(o.items, placed.items);
    assert.deepEqual(o.total, placed.total);
    assert.deepEqual(o.shippingAddress, { name: 'Ada', line1: '1 Loop Rd', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' });
    assert.ok(!Number.isNaN(Date.parse(o.createdAt)), `createdAt ${o.createdAt}`);
    assert.ok(Array.isArray(o.timeline) && o.timeline.length >= 1, JSON.stringify(o.timeline));
    for (const t of o.timeline) {
      assert.equal(typeof t.type, 'string');
      assert.equal(typeof t.eventId, 'string');
      assert.ok(!Number.isNaN(Date.parse(t.time)), `timeline time ${t.time}`);
      if (t.traceparent !== undefined) assert.match(t.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    }
    if (o.status !== 'CANCELLED') assert.equal(o.cancellationReason, undefined, 'cancellationReason only when CANCELLED');
  });

  test('GET /v1/orders/{id}: other customer → 404, admin → 200, unknown/malformed → 404', async () => {
    assertProblem(await req(srv.url, { path: `/v1/orders/${placed.orderId}`, token: bob }), 404, 'not the owner');
    const a = await req(srv.url, { path: `/v1/orders/${placed.orderId}`, token: admin });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.customerId, aliceId);
    assertProblem(await req(srv.url, { path: '/v1/orders/00000000-0000-4000-8000-000000000000', token: alice }), 404, 'unknown uuid');
    assertProblem(await req(srv.url, { path: `/v1/orders/${placed.orderId}x`, token: alice }), 404, 'id with extra char');
    assertProblem(await req(srv.url, { path: '/v1/orders/%00%ff..%2f', token: alice }), 404, 'malformed id');
    assertProblem(await req(srv.url, { path: `/v1/orders/${'a'.repeat(300)}`, token: alice }), 404, 'very long id');
  });

  test('a placed order reaches DELIVERED', async () => {
    const o = await waitTerminal(srv.url, alice, placed.orderId);
    assert.equal(o.status, 'DELIVERED', JSON.stringify(o));
  });

  test('GET /v1/orders: own orders only, newest first, cursor pagination', async () => {
    const carol = uniq('carol');
    const tok = await token({ dataDir, customer: carol });
    const ids = [];
    for (let i = 0; i < 5; i++) {
      const r = await placeOrder(srv.url, tok, { items: [{ sku: 'PAD-XL-01', quantity: i + 1 }] });
      assert.equal(r.status, 202, r.text);
      ids.push(r.json.orderId);
      await sleep(15); // distinct creation times
    }
    const seen = [];
    let cursor = null;
    let pages = 0;
    do {
      const q = cursor === null ? '?limit=2' : `?limit=2&cursor=${encodeURIComponent(cursor)}`;
      const r = await req(srv.url, { path: `/v1/orders${q}`, token: tok });
      assert.equal(r.status, 200, r.text);
      assert.ok(Array.isArray(r.json.items), r.text);
      assert.ok(r.json.items.length <= 2, `limit=2 gave ${r.json.items.length}`);
      assert.ok('nextCursor' in r.json, 'nextCursor is always present');
      assert.ok(r.json.nextCursor === null || typeof r.json.nextCursor === 'string', r.text);
      for (const o of r.json.items) {
        assert.equal(o.customerId, carol);
        seen.push(o.orderId);
      }
      cursor = r.json.nextCursor;
      assert.ok(++pages <= 5, 'too many pages');
    } while (cursor !== null);
    assert.deepEqual(seen, [...ids].reverse(), 'all five, newest first, no duplicates');
    const all = await req(srv.url, { path: '/v1/orders', token: tok });
    assert.equal(all.status, 200);
    assert.deepEqual(all.json.items.map((o) => o.orderId), [...ids].reverse());
    assert.equal(all.json.nextCursor, null);
    const mine = await req(srv.url, { path: '/v1/orders?limit=100', token: bob });
    assert.equal(mine.status, 200);
    assert.ok(!mine.json.items.some((o) => ids.includes(o.orderId)), "bob does not see carol's orders");
  });

  test('GET /v1/orders?customer=: self ok, other needs admin (403), admin sees theirs', async () => {
    const self = await req(srv.url, { path: `/v1/orders?customer=${encodeURIComponent(aliceId)}`, token: alice });
    assert.equal(self.status, 200, self.text);
    assert.ok(self.json.items.length >= 1);
    assertProblem(await req(srv.url, { path: `/v1/orders?customer=${encodeURIComponent(aliceId)}`, token: bob }), 403);
    const a = await req(srv.url, { path: `/v1/orders?customer=${encodeURIComponent(aliceId)}&limit=100`, token: admin });
    assert.equal(a.status, 200, a.text);
    assert.ok(a.json.items.some((o) => o.orderId === placed.orderId));
    assert.ok(a.json.items.every((o) => o.customerId === aliceId));
  });

  test('GET /v1/orders: limit outside 1..100 → 422; garbage cursor → 4xx', async () => {
    for (const l of ['0', '101', '-1', 'abc', '1.5']) {
      const r = await req(srv.url, { path: `/v1/orders?limit=${l}`, token: alice });
      assertProblem(r, 422, `limit=${l}`);
    }
    const ok = await req(srv.url, { path: '/v1/orders?limit=100', token: alice });
    assert.equal(ok.status, 200);
    const c = await req(srv.url, { path: '/v1/orders?cursor=%%%not-a-cursor', token: alice });
    assert.ok([400, 422].includes(c.status), `garbage cursor → ${c.status} ${c.text}`);
    assertProblem(c, c.status);
  });

  test('POST /v1/orders/{id}/cancel: unknown → 404, not owner → 404', async () => {
    const r = await placeOrder(srv.url, alice, { paymentToken: 'tok_timeout' });
    assert.equal(r.status, 202);
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${r.json.orderId}/cancel`, token: bob }), 404, 'not owner');
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/orders/00000000-0000-4000-8000-000000000000/cancel', token: alice }), 404, 'unknown');
    const o = await getOrderRaw(r.json.orderId, alice);
    assert.notEqual(o.cancellationReason, 'customer_request', "bob's cancel did nothing");
  });

  test('POST /v1/orders/{id}/cancel by admin → 202 CANCELLED customer_request; again → 202, unchanged', async () => {
    const r = await placeOrder(srv.url, alice, { paymentToken: 'tok_timeout' });
    assert.equal(r.status, 202);
    const c = await req(srv.url, { method: 'POST', path: `/v1/orders/${r.json.orderId}/cancel`, token: admin });
    assert.equal(c.status, 202, c.text);
    assert.equal(c.json.orderId, r.json.orderId);
    assert.equal(c.json.status, 'CANCELLED');
    assert.equal(c.json.cancellationReason, 'customer_request');
    // A retry after a lost answer: the same answer, the order as it was.
    const again = await req(srv.url, { method: 'POST', path: `/v1/orders/${r.json.orderId}/cancel`, token: alice });
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json.status, 'CANCELLED');
    assert.equal(again.json.cancellationReason, 'customer_request');
  });
});

async function getOrderRaw(id, tok) {
  const r = await req(srv.url, { path: `/v1/orders/${id}`, token: tok });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// The DLQ with real dead letters (listing, reasons, redrive, orderly_dlq_depth)
// is dlq.test.mjs; on this server nothing may have been dead-lettered.
describe('admin', () => {
  test('GET /v1/admin/dlq (admin) → 200 {items: []}: the orders above dead-lettered nothing', async () => {
    const r = await req(srv.url, { path: '/v1/admin/dlq', token: admin });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { items: [] });
  });

  test('POST /v1/admin/dlq/{rule}/redrive (admin) with nothing dead → 200 {rule, redriven: 0}', async () => {
    const r = await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/orders.saga/redrive', token: admin });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { rule: 'orders.saga', redriven: 0 });
  });

  test('admin endpoints: non-admin → 403, no token → 401', async () => {
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: alice }), 403);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/orders.saga/redrive', token: alice }), 403);
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq' }), 401);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/orders.saga/redrive' }), 401);
  });
});

describe('routing, errors and request ids', () => {
  test('unknown paths → 404 problem', async () => {
    for (const p of ['/', '/nope', '/v1', '/v1/orderz', '/v2/orders', '/v1/products/KB-MECH-01/extra', '/healthz/x'])
      assertProblem(await req(srv.url, { path: p, token: alice }), 404, p);
  });

  test('known paths with the wrong method → 405 problem with Allow', async () => {
    const cases = [
      ['DELETE', '/v1/orders', ['GET', 'POST']],
      ['PUT', '/v1/orders', ['GET', 'POST']],
      ['POST', '/healthz', ['GET']],
      ['DELETE', '/readyz', ['GET']],
      ['POST', '/v1/products', ['GET']],
      ['DELETE', '/v1/products/KB-MECH-01', ['GET', 'PUT']],
      ['POST', '/v1/products/KB-MECH-01', ['GET', 'PUT']],
      ['DELETE', '/v1/orders/some-id', ['GET']],
      ['GET', '/v1/orders/some-id/cancel', ['POST']],
      ['POST', '/v1/admin/dlq', ['GET']],
      ['GET', '/v1/admin/dlq/orders.saga/redrive', ['POST']],
      ['POST', '/.well-known/jwks.json', ['GET']],
    ];
    for (const [method, path, allow] of cases) {
      const r = await req(srv.url, { method, path, token: admin });
      assertProblem(r, 405, `${method} ${path}`);
      const got = String(r.headers.allow ?? '').split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
      for (const m of allow) assert.ok(got.includes(m), `${method} ${path}: Allow "${r.headers.allow}" should include ${m}`);
      assert.ok(!got.includes(method), `${method} ${path}: Allow "${r.headers.allow}" must not include ${method}`);
    }
  });

  test('X-Request-Id is echoed when sent and generated otherwise, on successes and errors', async () => {
    const mine = 'e2e-req-0123456789';
    const a = await req(srv.url, { path: '/healthz', headers: { 'X-Request-Id': mine } });
    assert.equal(a.headers['x-request-id'], mine);
    const b = await req(srv.url, { path: '/healthz' });
    assert.ok(b.headers['x-request-id'] && b.headers['x-request-id'].length > 0);
    const c = await req(srv.url, { path: '/healthz' });
    assert.notEqual(b.headers['x-request-id'], c.headers['x-request-id'], 'generated ids differ');
    const e = await req(srv.url, { path: '/nope', headers: { 'X-Request-Id': mine } });
    assertProblem(e, 404);
    assert.equal(e.headers['x-request-id'], mine);
    assert.equal(e.json.requestId, mine);
    const f = await req(srv.url, { path: '/v1/orders' });
    assertProblem(f, 401);
    const o = await placeOrder(srv.url, alice, {}, { 'X-Request-Id': 'e2e-post-1' });
    assert.equal(o.status, 202);
    assert.equal(o.headers['x-request-id'], 'e2e-post-1');
  });

  test('a response to HEAD carries no body, whatever its status (RFC 9110 §9.3.2)', async () => {
    // HEAD isn't in the contract, so any status will do (405 with Allow, or 200);
    // but body bytes after a HEAD response's headers desynchronise a
    // keep-alive connection: they would be read as the next response.
    for (const path of ['/healthz', '/v1/products', '/nope']) {
      const text = await new Promise((resolve, reject) => {
        const c = net.connect(srv.port, '127.0.0.1', () =>
          c.write(`HEAD ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
        let b = '';
        c.setEncoding('latin1');
        c.on('data', (x) => (b += x));
        c.on('close', () => resolve(b));
        c.on('error', reject);
        setTimeout(() => c.destroy(), 5000);
      });
      const end = text.indexOf('\r\n\r\n');
      assert.ok(end > 0, `HEAD ${path}: no response: ${JSON.stringify(text)}`);
      const rest = text.slice(end + 4);
      assert.match(rest, /^HTTP\/1\.1 200 /, `HEAD ${path}: bytes after the headers are not the next response: ${JSON.stringify(text.slice(0, 600))}`);
    }
  });

  test('the server is still healthy', async () => {
    const r = await req(srv.url, { path: '/healthz' });
    assert.equal(r.status, 200);
  });
});
