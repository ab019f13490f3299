// Erasure of a customer's personal data, end to end on `orderly up`
// (docs/adr/0017): refused while an order is in flight, then `orderly
// customers erase` and a concurrent second request both complete, the API
// shows the redaction, another customer is untouched, and after the server
// stops no byte of the customer's name, street or postcode is left in any
// file of the data directory: every store, the bus (archive, queued
// messages, dead letters) and their WAL files.
//
// A dead letter carrying the customer's address is planted the way a buggy
// producer would leave one (as in dlq.test.mjs): an OrderConfirmed outside
// the contract (a lower-case currency), put in the orders outbox while no
// server runs; each consumer dead-letters its copy with the address in it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  BIN, REPO_ROOT, placeOrder, removeDir, req, sqlite, startServer, tempDir, token, uniq, waitFor, waitTerminal,
} from './lib.mjs';

const tag = randomUUID().slice(0, 8);
// Unique strings: found in a file only if this test's data put them there.
const VICTIM = { name: `Zelda Quixote ${tag}`, line1: `${tag} Erasure Lane`, city: 'Leeds', postalCode: `ER${tag}`, country: 'GB' };
const OTHER = { name: `Otto Keepme ${tag}`, line1: `${tag} Keep Street`, city: 'York', postalCode: `KP${tag}`, country: 'GB' };

function run(args) {
  return new Promise((res) => {
    execFile(BIN, args, { cwd: REPO_ROOT, timeout: 120_000 }, (e, stdout, stderr) => res({ code: e ? (e.code ?? 1) : 0, stdout, stderr }));
  });
}

// Every file under dir (the data directory has no backups here), as bytes.
function files(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

function filesHolding(dir, needle) {
  const bytes = Buffer.from(needle, 'utf8');
  return files(dir).filter((f) => readFileSync(f).includes(bytes)).map((f) => f.slice(dir.length + 1));
}

describe('erasure of a customer, end to end', () => {
  let dataDir, srv, admin, victim, other, victimId, otherId;
  const victimOrders = [];
  let otherOrder;
  const poisonId = randomUUID();
  const poisonOrder = randomUUID();

  before(async () => {
    dataDir = tempDir('orderly-erasure-');
    victimId = uniq('cust-erase');
    otherId = uniq('cust-keep');
    const first = await startServer({ dataDir });
    assert.equal((await first.stop()).code, 0);
    const poison = {
      specversion: '1.0', id: poisonId, source: 'orderly.orders', type: 'orderly.orders.OrderConfirmed.v1',
      subject: poisonOrder, time: new Date().toISOString(), datacontenttype: 'application/json',
      data: { orderId: poisonOrder, customerId: victimId, items: [{ sku: 'KB-MECH-01', quantity: 1, unitPrice: { amount: 100, currency: 'gbp' } }],
        total: { amount: 100, currency: 'gbp' }, shippingAddress: VICTIM },
    };
    await sqlite(join(dataDir, 'orders.db'), [
      ["INSERT INTO items(pk, sk, version, attrs, ttl) VALUES ('OUTBOX', ?, 1, ?, NULL)",
        [poisonId, JSON.stringify({ event: JSON.stringify(poison), type: poison.type, source: poison.source })]],
    ]);
    srv = await startServer({ dataDir });
    [admin, victim, other] = await Promise.all([
      token({ dataDir, customer: uniq('admin'), admin: true }),
      token({ dataDir, customer: victimId }),
      token({ dataDir, customer: otherId }),
    ]);
  });

  after(async () => {
    if (srv) await srv.stop();
    removeDir(dataDir);
  });

  test('the customer and another place orders; the poison is dead-lettered with the address in it', async () => {
    for (const paymentToken of ['tok_ok', 'tok_decline']) {
      const r = await placeOrder(srv.url, victim, { paymentToken, address: VICTIM }, { 'Idempotency-Key': `k-${paymentToken}` });
      assert.equal(r.status, 202, r.text);
      victimOrders.push(r.json.orderId);
    }
    const o = await placeOrder(srv.url, other, { address: OTHER });
    assert.equal(o.status, 202, o.text);
    otherOrder = o.json.orderId;
    const ends = await Promise.all([...victimOrders, otherOrder].map((id) => waitTerminal(srv.url, admin, id)));
    assert.deepEqual(ends.map((x) => x.status), ['DELIVERED', 'CANCELLED', 'DELIVERED']);
    const dead = await waitFor(async () => {
      const r = await req(srv.url, { path: '/v1/admin/dlq', token: admin });
      const mine = r.json.items.filter((d) => d.eventId === poisonId);
      return mine.length >= 3 ? mine : false;
    }, 15_000, { what: 'the poison dead-lettered' });
    assert.ok(dead.length >= 3);
  });

  test('refused (409, problem+json) while one of the customer\'s orders is in flight', async () => {
    const pending = await placeOrder(srv.url, victim, { paymentToken: 'tok_timeout', address: VICTIM });
    assert.equal(pending.status, 202, pending.text);
    const r = await req(srv.url, { method: 'POST', path: `/v1/admin/customers/${victimId}/erase`, token: admin });
    assert.equal(r.status, 409, r.text);
    assert.match(r.headers['content-type'], /application\/problem\+json/);
    assert.match(r.json.detail, new RegExp(`order ${pending.json.orderId} is still PENDING`));
    victimOrders.push(pending.json.orderId);
    const end = await waitTerminal(srv.url, admin, pending.json.orderId);
    assert.equal(end.status, 'CANCELLED');
  });

  test('only an admin may erase, and a customer cannot read an erasure', async () => {
    const r = await req(srv.url, { method: 'POST', path: `/v1/admin/customers/${victimId}/erase`, token: victim });
    assert.equal(r.status, 403, r.text);
    const g = await req(srv.url, { path: `/v1/admin/erasures/${randomUUID()}`, token: admin });
    assert.equal(g.status, 404, g.text);
    const long = await req(srv.url, { method: 'POST', path: `/v1/admin/customers/${'c'.repeat(129)}/erase`, token: admin });
    assert.equal(long.status, 422, long.text);
  });

  test('orderly customers erase and a concurrent second request both complete; every service answered', async () => {
    const [cli, second] = await Promise.all([
      run(['customers', 'erase', victimId, '--url', srv.url, '--data-dir', dataDir]),
      req(srv.url, { method: 'POST', path: `/v1/admin/customers/${victimId}/erase`, token: admin }),
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    const done = JSON.parse(cli.stdout);
    assert.equal(done.status, 'COMPLETED', cli.stdout);
    assert.equal(done.orders, victimOrders.length);
    assert.deepEqual(Object.keys(done.answered).sort(), ['inventory', 'notifications', 'orders', 'payments', 'shipping']);
    assert.equal(done.answered.shipping, 1, 'the one delivered order had a shipment');
    assert.deepEqual(done.waitingFor, []);
    assert.equal(second.status, 202, second.text);
    assert.match(second.headers.location, /^\/v1\/admin\/erasures\//);
    const again = await waitFor(async () => {
      const g = await req(srv.url, { path: second.headers.location, token: admin });
      return g.json?.status === 'COMPLETED' ? g.json : false;
    }, 15_000, { what: 'the second erasure completed' });
    assert.equal(again.customerId, victimId);
    assert.equal(again.answered.shipping, 1, 'an erased shipment counts for each erasure');
    // Each mailbox message is deleted once, by whichever erasure came first:
    // confirmed, dispatched, delivered; declined; timed out.
    assert.equal(done.answered.notifications + again.answered.notifications, 5,
      `${JSON.stringify(done.answered)} ${JSON.stringify(again.answered)}`);
  });

  test('the API shows the redaction; money and items stay; the other customer is untouched', async () => {
    for (const id of victimOrders) {
      const r = await req(srv.url, { path: `/v1/orders/${id}`, token: victim });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.shippingAddress, { name: '[erased]', line1: '[erased]', city: '[erased]', postalCode: '[erased]', country: 'GB' });
      assert.ok(r.json.total.amount > 0);
      assert.equal(r.json.items.length, 1);
    }
    const o = await req(srv.url, { path: `/v1/orders/${otherOrder}`, token: other });
    assert.deepEqual(o.json.shippingAddress, OTHER);
    // The saga view reads the bus archive: its events carry no address now.
    const saga = await req(srv.url, { path: `/v1/orders/${victimOrders[0]}/saga`, token: admin });
    assert.equal(saga.status, 200, saga.text);
    assert.ok(!saga.text.includes(VICTIM.line1));
  });

  test('after the server stops, no file of the data directory holds the customer\'s name, street or postcode', async () => {
    const st = await srv.stop();
    srv = null;
    assert.equal(st.code, 0);
    for (const needle of [VICTIM.name, VICTIM.line1, VICTIM.postalCode])
      assert.deepEqual(filesHolding(dataDir, needle), [], `"${needle}" is still on disk`);
    // The search finds what is there: the other customer's address is kept.
    assert.ok(filesHolding(dataDir, OTHER.line1).includes('orders.db'), 'the other customer\'s address is not in orders.db: the search is broken');
    assert.ok(filesHolding(dataDir, OTHER.line1).includes('bus.db'), 'the other customer\'s events are not in bus.db: the search is broken');
  });
});

// Retention, on a server that keeps personal data one second (the default is
// 90 days): place and deliver, wait for an order's erasure, and after the
// server stops, grep its data directory.
async function retentionServer(prefix, sweepSeconds, customers) {
  const dataDir = tempDir(prefix);
  const srv = await startServer({
    dataDir,
    args: ['--retention-days', String(1 / 86400), '--retention-sweep-seconds', String(sweepSeconds)],
  });
  const tokens = await Promise.all(customers.map((c) => token({ dataDir, customer: uniq(c), admin: c === 'admin' })));
  return { dataDir, srv, tokens };
}

async function deliver(srv, admin, tok, address) {
  const placed = await placeOrder(srv.url, tok, { address });
  assert.equal(placed.status, 202, placed.text);
  assert.equal((await waitTerminal(srv.url, admin, placed.json.orderId)).status, 'DELIVERED');
  return placed.json.orderId;
}

async function waitErased(srv, tok, orderId, what) {
  return waitFor(async () => {
    const r = await req(srv.url, { path: `/v1/orders/${orderId}`, token: tok });
    return r.json.shippingAddress.name === '[erased]' ? r.json : false;
  }, 15_000, { what });
}

// Every service's copies, and the bus's, go too: the erasure's answers settle,
// the server stops cleanly, and no file holds the address any more.
async function stopAndGrep(srv, admin, dataDir, address) {
  await waitFor(async () => {
    const r = await req(srv.url, { path: '/v1/admin/queues', token: admin });
    return r.json.items.every((q) => q.ready === 0 && q.inFlight === 0) ? true : false;
  }, 10_000, { what: 'queues drained' });
  const st = await srv.stop();
  assert.equal(st.code, 0);
  for (const needle of [address.name, address.line1, address.postalCode])
    assert.deepEqual(filesHolding(dataDir, needle), [], `"${needle}" is still on disk`);
}

// Orders sweeps after each delivery it records, so the next delivery erases
// the expired order (the timer is off here: only the delivery can).
describe('retention of a delivered order, end to end', () => {
  let ctx;
  const OLD = { name: `Olive Expired ${tag}`, line1: `${tag} Old Road`, city: 'Hull', postalCode: `OL${tag}`, country: 'GB' };
  const NEW = { name: `Nina Fresh ${tag}`, line1: `${tag} New Road`, city: 'Bath', postalCode: `NW${tag}`, country: 'GB' };

  before(async () => {
    ctx = await retentionServer('orderly-retention-', 0, ['admin', 'cust-old', 'cust-new']);
  });

  after(async () => {
    if (ctx?.srv) await ctx.srv.stop();
    if (ctx) removeDir(ctx.dataDir);
  });

  test('the next delivery after the period erases the expired order, not itself', async () => {
    const { srv, dataDir, tokens: [admin, first, second] } = ctx;
    const a = await deliver(srv, admin, first, OLD);
    const kept = await req(srv.url, { path: `/v1/orders/${a}`, token: first });
    assert.deepEqual(kept.json.shippingAddress, OLD, 'erased before its period passed');
    await new Promise((r) => setTimeout(r, 1500));
    const b = await deliver(srv, admin, second, NEW);
    assert.equal((await waitErased(srv, first, a, 'the expired order erased')).status, 'DELIVERED');
    const fresh = await req(srv.url, { path: `/v1/orders/${b}`, token: second });
    assert.deepEqual(fresh.json.shippingAddress, NEW);
    ctx.srv = null;
    await stopAndGrep(srv, admin, dataDir, OLD);
    assert.ok(filesHolding(dataDir, NEW.line1).includes('shipping.db'), 'the fresh order\'s shipment lost its address');
  });
});

// Retention with nothing delivered after the period: the host's own sweep
// (--retention-sweep-seconds) erases the expired order. Without it (0), this
// order's address would stay until some other order was delivered.
describe('retention when nothing else is delivered, end to end', () => {
  let ctx;
  const QUIET = { name: `Quentin Quiet ${tag}`, line1: `${tag} Still Lane`, city: 'Ely', postalCode: `QT${tag}`, country: 'GB' };

  before(async () => {
    ctx = await retentionServer('orderly-retention-sweep-', 1, ['admin', 'cust-quiet']);
  });

  after(async () => {
    if (ctx?.srv) await ctx.srv.stop();
    if (ctx) removeDir(ctx.dataDir);
  });

  test('the sweep erases a delivered order once its period has passed, with no delivery after it', async () => {
    const { srv, dataDir, tokens: [admin, cust] } = ctx;
    const a = await deliver(srv, admin, cust, QUIET);
    const erased = await waitErased(srv, cust, a, 'the expired order erased by the sweep');
    assert.equal(erased.status, 'DELIVERED');
    assert.equal(erased.shippingAddress.country, 'GB');
    ctx.srv = null;
    await stopAndGrep(srv, admin, dataDir, QUIET);
  });
});
