// Idempotency-Key on POST /v1/orders: a retried request returns the same
// order; a reused key with another body is rejected; keys are per customer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { assertProblem, orderBody, placeOrder, removeDir, req, startServer, tempDir, token, uniq } from './lib.mjs';

let srv, dataDir, alice, bob, aliceId;

before(async () => {
  dataDir = tempDir();
  srv = await startServer({ dataDir });
  aliceId = uniq('alice');
  [alice, bob] = await Promise.all([token({ dataDir, customer: aliceId }), token({ dataDir, customer: uniq('bob') })]);
});

after(async () => {
  if (srv) {
    const r = await srv.stop();
    assert.equal(r.killed, false, 'server did not exit within 10 s of SIGTERM');
  }
  removeDir(dataDir);
});

const listIds = async (tok) => {
  const r = await req(srv.url, { path: '/v1/orders?limit=100', token: tok });
  assert.equal(r.status, 200, r.text);
  return r.json.items.map((o) => o.orderId);
};

describe('Idempotency-Key', () => {
  test('same key, same body → 202 with the same orderId, one order only', async () => {
    const before = await listIds(alice);
    const key = `k-${randomUUID()}`;
    const body = { items: [{ sku: 'MS-WL-02', quantity: 2 }] };
    const a = await placeOrder(srv.url, alice, body, { 'Idempotency-Key': key });
    assert.equal(a.status, 202, a.text);
    const b = await placeOrder(srv.url, alice, body, { 'Idempotency-Key': key });
    assert.equal(b.status, 202, b.text);
    assert.equal(b.json.orderId, a.json.orderId);
    assert.deepEqual(b.json.total, a.json.total);
    assert.equal(b.headers.location, `/v1/orders/${a.json.orderId}`);
    // A third time, later, after the order has moved on.
    await new Promise((r) => setTimeout(r, 1500));
    const c = await placeOrder(srv.url, alice, body, { 'Idempotency-Key': key });
    assert.equal(c.status, 202, c.text);
    assert.equal(c.json.orderId, a.json.orderId);
    const after = await listIds(alice);
    assert.equal(after.length, before.length + 1, 'exactly one new order');
    assert.ok(after.includes(a.json.orderId));
  });

  test('same key, different body → 422 problem, and the first order is unchanged', async () => {
    const key = `k-${randomUUID()}`;
    const a = await placeOrder(srv.url, alice, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] }, { 'Idempotency-Key': key });
    assert.equal(a.status, 202, a.text);
    const n = (await listIds(alice)).length;
    for (const other of [
      { items: [{ sku: 'KB-MECH-01', quantity: 2 }] },
      { items: [{ sku: 'MS-WL-02', quantity: 1 }] },
      { paymentToken: 'tok_decline' },
      { address: { name: 'Bob', line1: '1 Loop Rd', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' } },
    ]) {
      const b = await placeOrder(srv.url, alice, other, { 'Idempotency-Key': key });
      assertProblem(b, 422, `reused key with ${JSON.stringify(other)}`);
    }
    assert.equal((await listIds(alice)).length, n, 'no new order');
    const o = await req(srv.url, { path: `/v1/orders/${a.json.orderId}`, token: alice });
    assert.equal(o.status, 200);
    assert.deepEqual(o.json.items.map((i) => [i.sku, i.quantity]), [['KB-MECH-01', 1]]);
  });

  test('different customers using the same key do not collide', async () => {
    const key = `shared-${randomUUID()}`;
    const a = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': key });
    const b = await placeOrder(srv.url, bob, {}, { 'Idempotency-Key': key });
    assert.equal(a.status, 202, a.text);
    assert.equal(b.status, 202, b.text);
    assert.notEqual(a.json.orderId, b.json.orderId);
    const ga = await req(srv.url, { path: `/v1/orders/${a.json.orderId}`, token: alice });
    const gb = await req(srv.url, { path: `/v1/orders/${b.json.orderId}`, token: bob });
    assert.equal(ga.status, 200);
    assert.equal(gb.status, 200);
    assert.equal(ga.json.customerId, aliceId);
    assert.notEqual(gb.json.customerId, aliceId);
    // And with a different body for bob, still no conflict with alice's key.
    const key2 = `shared-${randomUUID()}`;
    const a2 = await placeOrder(srv.url, alice, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] }, { 'Idempotency-Key': key2 });
    const b2 = await placeOrder(srv.url, bob, { items: [{ sku: 'MS-WL-02', quantity: 3 }] }, { 'Idempotency-Key': key2 });
    assert.equal(a2.status, 202, a2.text);
    assert.equal(b2.status, 202, b2.text);
    assert.notEqual(a2.json.orderId, b2.json.orderId);
  });

  test('without a key, two identical POSTs make two orders', async () => {
    const a = await placeOrder(srv.url, alice);
    const b = await placeOrder(srv.url, alice);
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.notEqual(a.json.orderId, b.json.orderId);
  });

  test('different keys, same body → different orders', async () => {
    const a = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': `k-${randomUUID()}` });
    const b = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': `k-${randomUUID()}` });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.notEqual(a.json.orderId, b.json.orderId);
  });

  test('10 concurrent requests with one key → all 202, one orderId, one order', async () => {
    const before = (await listIds(alice)).length;
    const key = `race-${randomUUID()}`;
    const rs = await Promise.all(Array.from({ length: 10 }, () => placeOrder(srv.url, alice, { items: [{ sku: 'CB-USBC-1M', quantity: 4 }] }, { 'Idempotency-Key': key })));
    for (const r of rs) assert.equal(r.status, 202, r.text);
    const ids = new Set(rs.map((r) => r.json.orderId));
    assert.equal(ids.size, 1, `orderIds: ${[...ids].join(', ')}`);
    assert.equal((await listIds(alice)).length, before + 1);
  });

  test('key length: 128 characters accepted, 129 rejected (4xx problem)', async () => {
    const k128 = 'k'.repeat(128);
    const a = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': k128 });
    assert.equal(a.status, 202, a.text);
    const n = (await listIds(alice)).length;
    const b = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': 'k'.repeat(129) });
    assertProblem(b, 400);
    assert.equal((await listIds(alice)).length, n, 'no order for the rejected key');
  });

  test('a rejected (invalid) body does not burn the key', async () => {
    const key = `k-${randomUUID()}`;
    const bad = await req(srv.url, { method: 'POST', path: '/v1/orders', token: alice, body: { ...orderBody(), items: [] }, headers: { 'Idempotency-Key': key } });
    assertProblem(bad, 422);
    const good = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': key });
    assert.equal(good.status, 202, good.text);
  });

  test('a replay survives a restart', async () => {
    const key = `k-${randomUUID()}`;
    const a = await placeOrder(srv.url, alice, { items: [{ sku: 'HUB-USB3-4', quantity: 1 }] }, { 'Idempotency-Key': key });
    assert.equal(a.status, 202, a.text);
    const st = await srv.stop();
    assert.equal(st.killed, false);
    assert.equal(st.code, 0);
    srv = await startServer({ dataDir });
    const b = await placeOrder(srv.url, alice, { items: [{ sku: 'HUB-USB3-4', quantity: 1 }] }, { 'Idempotency-Key': key });
    assert.equal(b.status, 202, b.text);
    assert.equal(b.json.orderId, a.json.orderId);
    const c = await placeOrder(srv.url, alice, { items: [{ sku: 'HUB-USB3-4', quantity: 2 }] }, { 'Idempotency-Key': key });
    assertProblem(c, 422);
  });

  // Issue 11, hole 2: records were keyed IDEMPOTENCY#<sub>#<key>, so customer "alice#k"
  // with key "1" found the record of customer "alice" with key "k#1", and the replay path
  // returned alice's order to her. Failed on the old code (the second customer got 202 with
  // alice's orderId); now the key may not hold '#', and the owner is length-prefixed.
  test("another customer's key cannot reach a customer's order", async () => {
    const base = uniq('alice');
    const victim = await token({ dataDir, customer: base });
    const attacker = await token({ dataDir, customer: `${base}#k` });
    const a = await placeOrder(srv.url, victim, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] }, { 'Idempotency-Key': 'k#1' });
    assert.ok(a.status === 202 || a.status === 400, `${a.status} ${a.text}`);
    // The victim's own safe key, in the attacker's shape of collision: "<base>" + "k:1"
    // against "<base>#k" + "1" — distinct records now.
    const v = await placeOrder(srv.url, victim, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] }, { 'Idempotency-Key': 'k.1' });
    assert.equal(v.status, 202, v.text);
    const m = await placeOrder(srv.url, attacker, { items: [{ sku: 'KB-MECH-01', quantity: 1 }] }, { 'Idempotency-Key': '1' });
    assert.equal(m.status, 202, m.text);
    assert.notEqual(m.json.orderId, v.json.orderId, "the attacker was given the victim's order");
    if (a.status === 202) assert.notEqual(m.json.orderId, a.json.orderId, "the attacker was given the victim's order");
    const seen = await req(srv.url, { path: `/v1/orders/${v.json.orderId}`, token: attacker });
    assert.equal(seen.status, 404, seen.text);
  });

  test('a key with characters outside [A-Za-z0-9._:-] is a 400 problem, and places nothing', async () => {
    const n = (await listIds(alice)).length;
    for (const bad of ['k#1', 'a b', 'k/1', 'k%00', 'k;1', '"k"']) {
      const r = await placeOrder(srv.url, alice, {}, { 'Idempotency-Key': bad });
      assertProblem(r, 400);
      assert.match(r.json.detail, /Idempotency-Key/);
    }
    assert.equal((await listIds(alice)).length, n, 'no order for a rejected key');
  });
});
