// Disaster recovery, embedded: `orderly backup` of a server under load, then
// `orderly restore` into a new data directory, and the restored system
// finishes every order it knows with the invariants intact (effects.mjs:
// each effect once, money = delivered totals, stock conserved, nothing
// reserved, no dead letter, nothing left unrelayed).
//
// The backup is taken while orders are being placed and sagas run. Every
// order accepted before the backup began must be in the restore (RPO: the
// backup's moment); orders accepted after it may or may not be.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check, readDataDir } from './effects.mjs';
import { BIN, REPO_ROOT, TERMINAL, placeOrder, pool, removeDir, req, startServer, tempDir, token, uniq, waitFor } from './lib.mjs';

const SKU = 'BKP-TEST-01';
const STOCK = 100_000;
const ORDERS = 160;

function run(args) {
  return new Promise((res) => {
    execFile(BIN, args, { cwd: REPO_ROOT, timeout: 120_000 }, (e, stdout, stderr) => res({ code: e ? (e.code ?? 1) : 0, stdout, stderr }));
  });
}

async function allOrders(url, tok) {
  const out = [];
  let cursor = null;
  do {
    const q = cursor === null ? '?limit=100' : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
    const r = await req(url, { path: `/v1/orders${q}`, token: tok });
    assert.equal(r.status, 200, r.text);
    out.push(...r.json.items);
    cursor = r.json.nextCursor;
  } while (cursor);
  return out;
}

describe('backup under load, restore, and the restored system finishes consistently', () => {
  let a, b, dirA, dirB, customer, admin, manifest;
  const acceptedBefore = new Set();

  before(async () => {
    dirA = tempDir('orderly-backup-a-');
    dirB = tempDir('orderly-backup-b-');
    a = await startServer({ dataDir: dirA });
    customer = await token({ dataDir: dirA, customer: uniq('cust-backup') });
    admin = await token({ dataDir: dirA, customer: uniq('ops'), admin: true });
    const put = await req(a.url, { method: 'PUT', path: `/v1/products/${SKU}`, token: admin,
      body: { name: 'Backup test item', price: { amount: 1234, currency: 'GBP' }, stock: STOCK } });
    assert.equal(put.status, 200, put.text);
  });

  after(async () => {
    if (a) await a.stop();
    if (b) await b.stop();
    removeDir(dirA);
    removeDir(dirB);
  });

  test('a second server, or a restore, is refused on a data directory in use', async () => {
    const second = await run(['up', '--host', '127.0.0.1', '--port', '0', '--data-dir', dirA]);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /in use by another orderly up or restore/);
    const restore = await run(['restore', '--from', dirB, '--data-dir', dirA]);
    assert.notEqual(restore.code, 0);
    assert.match(restore.stderr, /in use/);
  });

  test('orderly backup while orders are placed and sagas run', async () => {
    let placed = 0;
    let backupStarted = false;
    const load = pool(Array.from({ length: ORDERS }, (_, i) => i), 8, async (i) => {
      const r = await placeOrder(a.url, customer, { items: [{ sku: SKU, quantity: 1 + (i % 3) }], paymentToken: i % 5 === 0 ? 'tok_decline' : 'tok_ok' });
      assert.equal(r.status, 202, r.text);
      if (!backupStarted) acceptedBefore.add(r.json.orderId);
      placed++;
    });
    await waitFor(() => placed >= ORDERS / 3, 30_000, { what: 'a third of the orders placed' });
    backupStarted = true;
    const snapshot = new Set(acceptedBefore);
    const r = await run(['backup', '--url', a.url, '--data-dir', dirA]);
    assert.equal(r.code, 0, r.stderr);
    manifest = JSON.parse(r.stdout);
    acceptedBefore.clear();
    for (const id of snapshot) acceptedBefore.add(id);
    await load;
    assert.ok(acceptedBefore.size >= ORDERS / 3 && acceptedBefore.size < ORDERS, `${acceptedBefore.size} accepted before the backup`);
    assert.deepEqual(manifest.files.map((f) => f.name).slice(0, 1), ['bus.db'], 'the bus is copied first');
    for (const f of ['orders.db', 'inventory.db', 'payments.db', 'shipping.db', 'notifications.db', 'provider-simulator.db', 'jwt-private.pem'])
      assert.ok(manifest.files.some((x) => x.name === f), `${f} in the backup`);
    assert.ok(existsSync(join(manifest.dir, 'manifest.json')));
    assert.ok(manifest.dir.startsWith(join(dirA, 'backups')), manifest.dir);
    // The live system is untouched: it finishes its own orders.
    await waitFor(async () => (await allOrders(a.url, customer)).every((o) => TERMINAL.has(o.status)), 60_000, { what: 'the live system to finish' });
    await a.stop();
    a = null;
  });

  test('a damaged backup is refused before anything is replaced', async () => {
    const copy = tempDir('orderly-backup-damaged-');
    const { cpSync, appendFileSync } = await import('node:fs');
    cpSync(manifest.dir, copy, { recursive: true });
    appendFileSync(join(copy, 'orders.db'), 'x');
    const target = tempDir('orderly-backup-target-');
    const r = await run(['restore', '--from', copy, '--data-dir', target]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /orders\.db does not match the manifest/);
    assert.ok(!existsSync(join(target, 'bus.db')), 'nothing was copied');
    removeDir(copy);
    removeDir(target);
  });

  test('restored into a new directory, every order it knows reaches a terminal state, each effect once', async () => {
    const r = await run(['restore', '--from', manifest.dir, '--data-dir', dirB]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((readFileSync(join(dirB, 'jwt-private.pem')).length > 0), true);
    b = await startServer({ dataDir: dirB });
    // The restored signing key: the customer's token from before still verifies.
    const orders = await waitFor(async () => {
      const all = await allOrders(b.url, customer);
      return all.length > 0 && all.every((o) => TERMINAL.has(o.status)) ? all : null;
    }, 60_000, { what: 'every restored order to be terminal', intervalMs: 250 });
    const ids = new Set(orders.map((o) => o.orderId));
    const missing = [...acceptedBefore].filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], 'orders accepted before the backup began are all restored');
    assert.ok(orders.some((o) => o.status === 'DELIVERED') && orders.some((o) => o.status === 'CANCELLED'));
    const full = await Promise.all(orders.map(async (o) => (await req(b.url, { path: `/v1/orders/${o.orderId}`, token: customer })).json));
    // Quiet: every queue but the saga timers' empty on three looks in a row.
    const adminB = await token({ dataDir: dirB, customer: uniq('ops'), admin: true });
    let quiet = 0;
    await waitFor(async () => {
      const q = await req(b.url, { path: '/v1/admin/queues', token: adminB });
      const busy = q.json.items.filter((x) => x.rule !== 'orders.timers' && x.ready + x.delayed + x.inFlight > 0);
      quiet = busy.length === 0 ? quiet + 1 : 0;
      return quiet >= 3;
    }, 20_000, { intervalMs: 300, what: 'the queues to drain' });
    await b.stop();
    b = null;
    const data = await readDataDir(dirB);
    assert.deepEqual(check(data, { orders: full, stock: { [SKU]: STOCK } }), []);
  });
});
