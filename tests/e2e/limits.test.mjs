// Rate limiting (token bucket per subject, per client IP when anonymous) and
// load shedding (--max-backlog → 503 on POST /v1/orders, GETs still work).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { assertProblem, placeOrder, rawRequest, removeDir, req, sleep, startServer, tempDir, token, uniq } from './lib.mjs';

function count(rs) {
  const c = {};
  for (const r of rs) c[r.status] = (c[r.status] ?? 0) + 1;
  return c;
}

function assert429(r) {
  assertProblem(r, 429);
  const ra = r.headers['retry-after'];
  assert.match(String(ra ?? ''), /^\d+$/, `Retry-After "${ra}" should be delay-seconds`);
  return Number(ra);
}

describe('rate limiting', () => {
  test('--rate-limit 5 --rate-burst 5: a burst of 20 gets 429s; others are unaffected; it recovers', async (t) => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir, args: ['--rate-limit', '5', '--rate-burst', '5'] });
      const [alice, bob] = await Promise.all([token({ dataDir, customer: uniq('alice') }), token({ dataDir, customer: uniq('bob') })]);

      const burst = await Promise.all(Array.from({ length: 20 }, () => req(srv.url, { path: '/v1/orders', token: alice })));
      const c = count(burst);
      t.diagnostic(`alice's burst: ${JSON.stringify(c)}`);
      assert.deepEqual(Object.keys(c).sort(), ['200', '429'], `only 200s and 429s expected: ${JSON.stringify(c)}`);
      assert.ok(c[200] >= 1 && c[200] <= 8, `200s: ${c[200]} (burst 5)`);
      let retryAfter = 1;
      for (const r of burst.filter((x) => x.status === 429)) retryAfter = assert429(r);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);

      // Another subject has its own bucket.
      const b = await req(srv.url, { path: '/v1/orders', token: bob });
      assert.equal(b.status, 200, `bob limited by alice's burst: ${b.text}`);

      // Writes count too.
      const posts = await Promise.all(Array.from({ length: 10 }, () => placeOrder(srv.url, alice)));
      assert.ok(posts.some((r) => r.status === 429), `POSTs: ${JSON.stringify(count(posts))}`);
      for (const r of posts) assert.ok([202, 429].includes(r.status), `${r.status} ${r.text}`);

      // The bucket refills.
      await sleep(Math.max(retryAfter, 1) * 1000 + 500);
      const again = await req(srv.url, { path: '/v1/orders', token: alice });
      assert.equal(again.status, 200, again.text);

      // Anonymous requests are limited per client IP.
      const anon = await Promise.all(Array.from({ length: 20 }, () => req(srv.url, { path: '/v1/products' })));
      const ca = count(anon);
      t.diagnostic(`anonymous burst: ${JSON.stringify(ca)}`);
      assert.ok(ca[429] >= 1, `no 429 for anonymous requests: ${JSON.stringify(ca)}`);
      for (const r of anon.filter((x) => x.status === 429)) assert429(r);
      for (const r of anon) assert.ok([200, 429].includes(r.status), String(r.status));
      // ...which does not touch an authenticated customer's bucket.
      const carol = await token({ dataDir, customer: uniq('carol') });
      const cr = await req(srv.url, { path: '/v1/orders', token: carol });
      assert.equal(cr.status, 200, cr.text);
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });

  // Issue 11, hole 4: forged tokens (a valid header and kid, a random signature, all
  // different) cost a signature check each; they are metered per client before it, a
  // replayed one is refused from memory, and a customer whose token was verified before is
  // answered from the cache throughout. The old code had no such meter: it checked every
  // forgery's signature (and has no --verify-rate, so this test cannot run there).
  test('--verify-rate 5: a flood of forged tokens is refused before its signatures are checked', async (t) => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir, args: ['--verify-rate', '5', '--rate-limit', '1000', '--rate-burst', '1000'] });
      const [alice, ops] = await Promise.all([token({ dataDir, customer: uniq('alice') }), token({ dataDir, customer: uniq('ops'), admin: true })]);
      assert.equal((await req(srv.url, { path: '/v1/orders', token: alice })).status, 200);
      assert.equal((await req(srv.url, { path: '/metrics', token: ops })).status, 200);
      const verified = async () => {
        const m = (await req(srv.url, { path: '/metrics', token: ops })).text;
        let n = 0;
        for (const [, v] of m.matchAll(/^orderly_jwt_verifications_total\{result="[a-z]+"\} (\d+)$/gm)) n += Number(v);
        return n;
      };
      const before = await verified();
      const [h, p] = alice.split('.');
      const forged = () => `${h}.${p}.${Buffer.from(Array.from({ length: 256 }, () => Math.floor(Math.random() * 256))).toString('base64url')}`;
      const t0 = Date.now();
      const flood = await Promise.all(Array.from({ length: 80 }, () => req(srv.url, { path: '/v1/orders', token: forged() })));
      const c = count(flood);
      t.diagnostic(`80 forged tokens: ${JSON.stringify(c)}`);
      assert.deepEqual(Object.keys(c).sort(), ['401', '429'], JSON.stringify(c));
      for (const r of flood.filter((x) => x.status === 429)) {
        assert429(r);
        assert.match(r.json.detail, /new tokens/);
      }
      const seconds = (Date.now() - t0) / 1000;
      const checked = (await verified()) - before;
      // Burst 10, then 5/s: at most that many signatures were checked.
      assert.ok(checked <= 10 + 5 * Math.ceil(seconds) + 1, `${checked} signature checks in ${seconds} s`);
      assert.ok(checked >= 1, 'no forged token was checked at all');
      // A replayed forgery is refused from memory: no new check.
      const one = forged();
      await sleep(1500);
      const first = await req(srv.url, { path: '/v1/orders', token: one });
      assert.equal(first.status, 401, first.text);
      const afterFirst = await verified();
      const replays = await Promise.all(Array.from({ length: 30 }, () => req(srv.url, { path: '/v1/orders', token: one })));
      for (const r of replays) assertProblem(r, 401);
      assert.equal(await verified(), afterFirst, 'a replayed forged token was checked again');
      // The customer verified before the flood is answered from the cache.
      const a = await req(srv.url, { path: '/v1/orders', token: alice });
      assert.equal(a.status, 200, a.text);
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });

  // Issue 11, hole 4 (connections): one client may hold only so many connections; one over
  // is answered 503 and closed before any request is read, and a freed slot is usable again.
  test('--max-connections-per-client 4: a fifth connection is refused; a freed one is reusable', async () => {
    const dataDir = tempDir();
    let srv;
    const held = [];
    try {
      srv = await startServer({ dataDir, args: ['--max-connections-per-client', '4'] });
      const u = new URL(srv.url);
      const open = () => new Promise((resolve, reject) => {
        const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => resolve(s));
        s.on('error', reject);
      });
      // Each held connection has finished one request, so the server has counted it.
      const hold = async () => {
        const s = await open();
        await new Promise((resolve) => {
          s.once('data', resolve);
          s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        });
        return s;
      };
      for (let i = 0; i < 4; i++) held.push(await hold());
      const extra = await rawRequest(srv.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 5_000 });
      assert.equal(extra.status, 503, `a fifth connection: ${extra.status ?? extra.errorCode} ${extra.text ?? ''}`);
      assert.match(extra.text, /too-many-connections/);
      held.pop().destroy();
      await sleep(200);
      const again = await req(srv.url, { path: '/healthz' });
      assert.equal(again.status, 200, 'a freed slot is usable again');
    } finally {
      for (const s of held) s.destroy();
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });

  test('the default limit (100/s, burst 200) does not get in the way of 50 quick requests', async () => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir });
      const tok = await token({ dataDir, customer: uniq('dflt') });
      const rs = await Promise.all(Array.from({ length: 50 }, () => req(srv.url, { path: '/v1/orders', token: tok })));
      assert.deepEqual(count(rs), { 200: 50 });
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });
});

describe('load shedding', () => {
  test('--max-backlog 1 --carrier-delay 60: POST eventually 503 with Retry-After; GETs still work', async (t) => {
    const dataDir = tempDir();
    let srv;
    try {
      srv = await startServer({ dataDir, args: ['--max-backlog', '1', '--carrier-delay', '60', '--saga-timeout', '60'] });
      const tok = await token({ dataDir, customer: uniq('shed') });
      const accepted = [];
      let shed;
      const seen = {};
      for (let round = 0; round < 6 && !shed; round++) {
        const rs = await Promise.all(Array.from({ length: 5 }, () => placeOrder(srv.url, tok)));
        for (const r of rs) {
          seen[r.status] = (seen[r.status] ?? 0) + 1;
          assert.ok([202, 503].includes(r.status), `${r.status} ${r.text}`);
          if (r.status === 202) accepted.push(r.json.orderId);
          else shed ??= r;
        }
        if (!shed) await sleep(300);
      }
      t.diagnostic(`POST outcomes: ${JSON.stringify(seen)}`);
      assert.ok(shed, `no 503 after ${accepted.length} orders with --max-backlog 1`);
      assertProblem(shed, 503);
      assert.match(String(shed.headers['retry-after'] ?? ''), /^\d+$/, `Retry-After "${shed.headers['retry-after']}"`);
      assert.ok(accepted.length >= 1, 'the first order should have been accepted');

      // Reads keep working while writes are shed.
      const l = await req(srv.url, { path: '/v1/orders?limit=100', token: tok });
      assert.equal(l.status, 200, l.text);
      assert.deepEqual(new Set(l.json.items.map((o) => o.orderId)), new Set(accepted), 'shed POSTs created no order');
      const g = await req(srv.url, { path: `/v1/orders/${accepted[0]}`, token: tok });
      assert.equal(g.status, 200, g.text);
      assert.equal((await req(srv.url, { path: '/v1/products' })).status, 200);
      assert.equal((await req(srv.url, { path: '/healthz' })).status, 200);
    } finally {
      if (srv) await srv.stop();
      removeDir(dataDir);
    }
  });
});
