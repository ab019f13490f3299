// The admin DLQ API (GET /v1/admin/dlq, POST /v1/admin/dlq/{rule}/redrive) and
// orderly_dlq_depth with real dead letters in a running `orderly up`.
//
// Nothing in the product makes poison on request, so it is planted the way a
// buggy producer would leave it: while no server runs, two items go into the
// orders service's outbox (pk OUTBOX, sk = event id, attrs {event: the
// CloudEvent's JSON text, type, source}; platform/src/unit_of_work.cpp), then
// the server starts and its relay publishes them.
//   1. An OrderCancelled whose `reason` is outside the contract. Every rule
//      that consumes OrderCancelled gets its own copy, decodes it strictly,
//      fails it as invalid_input (permanent) and dead-letters it at once.
//   2. An outbox item with no event at all, which the relay cannot read: it
//      goes to the `$relay` dead letters, which cannot be redriven.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { assertProblem, removeDir, req, sleep, sqlite, startServer, tempDir, token, uniq, waitFor } from './lib.mjs';

const CANCELLED = 'orderly.orders.OrderCancelled.v1';
// The rules whose subscriptions list OrderCancelled (services/*/src/service.cpp);
// orders' own rules (orders.saga, orders.timers, orders.catalogue) do not.
const CONSUMERS = ['inventory.events', 'notifications.events', 'payments.events', 'shipping.events'];
const ALL_RULES = [...CONSUMERS, 'orders.catalogue', 'orders.erasure', 'orders.saga', 'orders.timers', 'shipping.carrier'].sort();
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const poisonId = randomUUID();
const poisonOrder = randomUUID();
const unreadableId = randomUUID();
const poison = {
  specversion: '1.0',
  id: poisonId,
  source: 'orderly.orders',
  type: CANCELLED,
  subject: poisonOrder,
  time: new Date().toISOString(),
  datacontenttype: 'application/json',
  data: { orderId: poisonOrder, customerId: 'cust-poison', reason: 'lost_in_the_post', total: { amount: 100, currency: 'GBP' } },
};

let dataDir, srv, admin, alice;

before(async () => {
  dataDir = tempDir();
  // A first start creates the stores; the poison goes in while nothing runs.
  const first = await startServer({ dataDir });
  const st = await first.stop();
  assert.equal(st.code, 0, 'first start did not stop cleanly');
  await sqlite(join(dataDir, 'orders.db'), [
    ["INSERT INTO items(pk, sk, version, attrs, ttl) VALUES ('OUTBOX', ?, 1, ?, NULL)",
      [poisonId, JSON.stringify({ event: JSON.stringify(poison), type: poison.type, source: poison.source })]],
    ["INSERT INTO items(pk, sk, version, attrs, ttl) VALUES ('OUTBOX', ?, 1, ?, NULL)",
      [unreadableId, JSON.stringify({ type: CANCELLED, source: 'orderly.orders' })]],
  ]);
  srv = await startServer({ dataDir });
  [admin, alice] = await Promise.all([
    token({ dataDir, customer: uniq('admin'), admin: true }),
    token({ dataDir, customer: uniq('alice') }),
  ]);
});

after(async () => {
  if (srv) await srv.stop();
  removeDir(dataDir);
});

async function deadLetters(query = '') {
  const r = await req(srv.url, { path: `/v1/admin/dlq${query}`, token: admin });
  assert.equal(r.status, 200, r.text);
  assert.ok(Array.isArray(r.json?.items), r.text);
  return r.json.items;
}

// The value of one sample of /metrics, or undefined.
async function metric(name, labels) {
  const r = await req(srv.url, { path: '/metrics', token: admin });
  assert.equal(r.status, 200, r.text);
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of r.text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && m[2] === want) return Number(m[3]);
  }
  return undefined;
}

const byRule = (items) => Object.fromEntries(items.map((d) => [d.rule, d]));
// The decoder's error names the field by its JSONPath and says what it allows.
const reasonRe = /\$\.data\.reason\b/;
const enumRe = /must be one of: .*customer_request/;

describe('admin DLQ with real dead letters', () => {
  let seen; // the dead letters as first listed, by rule

  test('each rule that consumes the poison dead-letters its own copy, naming the reason', async () => {
    const expected = [...CONSUMERS, '$relay'].sort();
    const items = await waitFor(async () => {
      const d = await deadLetters();
      return d.length >= expected.length ? d : false;
    }, 15_000, { what: `${expected.length} dead letters` });
    // A moment more: no further copy may arrive (nothing retries a permanent failure).
    await sleep(1000);
    const again = await deadLetters();
    assert.deepEqual(again, items, 'the DLQ changed after the poison settled');
    assert.deepEqual(items.map((d) => d.rule).sort(), expected, JSON.stringify(items, null, 1));
    assert.equal(new Set(items.map((d) => d.id)).size, items.length, 'dead letter ids are unique');
    seen = byRule(items);
    for (const rule of CONSUMERS) {
      const d = seen[rule];
      assert.ok(Number.isInteger(d.id), `${rule}: id ${d.id}`);
      assert.equal(d.eventId, poisonId, `${rule}: eventId`);
      assert.equal(d.type, CANCELLED, `${rule}: type`);
      assert.equal(d.receiveCount, 1, `${rule}: a permanent failure is dead-lettered on its first receive`);
      assert.match(d.lastError, /^invalid_input: /, `${rule}: lastError ${d.lastError}`);
      assert.match(d.lastError, reasonRe, `${rule}: lastError ${d.lastError} should name the field`);
      assert.match(d.lastError, enumRe, `${rule}: lastError ${d.lastError} should say what is wrong`);
      assert.match(d.deadAt, RFC3339, `${rule}: deadAt ${d.deadAt}`);
    }
    const r = seen.$relay;
    assert.equal(r.eventId, unreadableId);
    assert.match(r.lastError, new RegExp(`outbox item ${unreadableId}: no event`), r.lastError);
    assert.equal(r.type, CANCELLED, 'listed under the type its outbox item names (it was "?")');
    assert.match(r.deadAt, RFC3339);
  });

  test('?rule= lists one rule\'s dead letters only', async () => {
    assert.ok(seen, 'the first step did not run');
    for (const rule of [...CONSUMERS, '$relay'])
      assert.deepEqual(await deadLetters(`?rule=${encodeURIComponent(rule)}`), [seen[rule]], rule);
    assert.deepEqual(await deadLetters('?rule=orders.saga'), []);
  });

  test('orderly_dlq_depth is 1 for each rule holding a copy and 0 for the others', async () => {
    assert.ok(seen, 'the first step did not run');
    for (const rule of ALL_RULES)
      assert.equal(await metric('orderly_dlq_depth', { rule }), CONSUMERS.includes(rule) ? 1 : 0, `orderly_dlq_depth{rule="${rule}"}`);
    // The unreadable outbox item is a dead letter too, under $relay (it was not counted before).
    assert.equal(await metric('orderly_dlq_depth', { rule: '$relay' }), 1, 'orderly_dlq_depth{rule="$relay"}');
    for (const rule of CONSUMERS)
      assert.equal(await metric('orderly_events_consumed_total', { rule, type: CANCELLED, outcome: 'fail' }), 1,
        `${rule}: the handler rejected the poison once`);
  });

  test('redrive puts it back on the queue (1 redriven); still poison, it fails again and returns with its reason', async () => {
    assert.ok(seen, 'the first step did not run');
    const rule = 'payments.events';
    const r = await req(srv.url, { method: 'POST', path: `/v1/admin/dlq/${rule}/redrive`, token: admin });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { rule, redriven: 1 });
    // Back through the consumer: a second rejection, and a new dead letter.
    const [back] = await waitFor(async () => {
      const d = await deadLetters(`?rule=${rule}`);
      return d.length === 1 && d[0].id !== seen[rule].id ? d : false;
    }, 15_000, { what: `the redriven ${rule} copy to be dead-lettered again` });
    assert.ok(back.id > seen[rule].id, `new dead letter id ${back.id} after ${seen[rule].id}`);
    assert.equal(back.eventId, poisonId);
    assert.equal(back.type, CANCELLED);
    assert.equal(back.receiveCount, 1, 'a redriven message starts a new receive count');
    assert.equal(back.lastError, seen[rule].lastError);
    assert.ok(Date.parse(back.deadAt) >= Date.parse(seen[rule].deadAt), `deadAt ${back.deadAt} before ${seen[rule].deadAt}`);
    assert.equal(await metric('orderly_events_consumed_total', { rule, type: CANCELLED, outcome: 'fail' }), 2,
      'the handler ran on the redriven copy');
    assert.equal(await metric('orderly_dlq_depth', { rule }), 1);
    // The other copies were not touched.
    const all = byRule(await deadLetters());
    assert.deepEqual(Object.keys(all).sort(), [...CONSUMERS, '$relay'].sort());
    for (const other of [...CONSUMERS, '$relay']) if (other !== rule) assert.deepEqual(all[other], seen[other], other);
    for (const other of CONSUMERS)
      if (other !== rule)
        assert.equal(await metric('orderly_events_consumed_total', { rule: other, type: CANCELLED, outcome: 'fail' }), 1, other);
    seen[rule] = back;
  });

  test('redriving a rule with no dead letters moves nothing', async () => {
    assert.ok(seen, 'the first step did not run');
    const r = await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/orders.saga/redrive', token: admin });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { rule: 'orders.saga', redriven: 0 });
    await sleep(300);
    assert.deepEqual(byRule(await deadLetters()), seen);
  });

  test('$relay dead letters cannot be redriven (400 not-redrivable) and stay', async () => {
    assert.ok(seen, 'the first step did not run');
    const r = await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/%24relay/redrive', token: admin });
    assertProblem(r, 400, 'redrive $relay');
    assert.match(r.json.type, /not-redrivable$/);
    assert.deepEqual(await deadLetters('?rule=%24relay'), [seen.$relay]);
  });

  test('a customer sees none of it: 403; without a token: 401', async () => {
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: alice }), 403);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/payments.events/redrive', token: alice }), 403);
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq' }), 401);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/payments.events/redrive' }), 401);
    assert.deepEqual(byRule(await deadLetters()), seen, 'the refused redrive moved nothing');
  });
});
