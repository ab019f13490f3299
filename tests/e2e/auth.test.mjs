// Authentication and authorisation: every way a bearer token can be wrong
// gives 401 with WWW-Authenticate; missing scopes give 403; other customers'
// orders are invisible (404).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, claims, decodeJwt, b64urlJson, now, orderBody, otherPrivateKey, placeOrder, removeDir, req,
  serverPrivatePem, serverPublicPem, signHS256, signRS256, startServer, tempDir, token, uniq, unsignedNone,
} from './lib.mjs';

let srv, dataDir, alice, bob, admin, kid, privPem, pubPem, aliceOrder;

before(async () => {
  dataDir = tempDir();
  // The key pair is created by whichever command runs first: here `token`.
  alice = await token({ dataDir, customer: uniq('alice') });
  srv = await startServer({ dataDir });
  [bob, admin] = await Promise.all([
    token({ dataDir, customer: uniq('bob') }),
    token({ dataDir, customer: uniq('admin'), admin: true }),
  ]);
  const jwks = await req(srv.url, { path: '/.well-known/jwks.json' });
  assert.equal(jwks.status, 200, jwks.text);
  kid = jwks.json.keys[0].kid;
  privPem = serverPrivatePem(dataDir);
  pubPem = serverPublicPem(dataDir);
  const r = await placeOrder(srv.url, alice, { paymentToken: 'tok_timeout' });
  assert.equal(r.status, 202, r.text);
  aliceOrder = r.json.orderId;
});

after(async () => {
  if (srv) {
    const r = await srv.stop();
    assert.equal(r.killed, false, 'server did not exit within 10 s of SIGTERM');
  }
  removeDir(dataDir);
});

function assert401(r, what) {
  assertProblem(r, 401, what);
  assert.match(String(r.headers['www-authenticate'] ?? ''), /^Bearer\b/i, `${what}: WWW-Authenticate "${r.headers['www-authenticate']}"`);
}

// A GET and a POST with this Authorization header value (or none).
async function both(authHeader) {
  const headers = authHeader === undefined ? {} : { Authorization: authHeader };
  const g = await req(srv.url, { path: '/v1/orders', headers });
  const p = await req(srv.url, { method: 'POST', path: '/v1/orders', headers, body: orderBody() });
  return [g, p];
}

const forged = (c, header) => signRS256(c, privPem, { kid, ...header });

describe('control: tokens forged with the real private key work', () => {
  test('a forged RS256 token with good claims → 200 and 202', async () => {
    const t = forged(claims({ sub: uniq('forged') }));
    const [g, p] = await both(`Bearer ${t}`);
    assert.equal(g.status, 200, g.text);
    assert.equal(p.status, 202, p.text);
  });

  test('the token minted before `up` started is valid (same key pair)', async () => {
    const r = await req(srv.url, { path: '/v1/orders', token: alice });
    assert.equal(r.status, 200, r.text);
  });

  test('exp 10 s ago and nbf 10 s ahead are within the 30 s leeway', async () => {
    const t = now();
    const r1 = await req(srv.url, { path: '/v1/orders', token: forged(claims({ iat: t - 100, exp: t - 10 })) });
    assert.equal(r1.status, 200, `exp-10s: ${r1.text}`);
    const r2 = await req(srv.url, { path: '/v1/orders', token: forged(claims({ nbf: t + 10 })) });
    assert.equal(r2.status, 200, `nbf+10s: ${r2.text}`);
  });
});

describe('401: missing or invalid tokens', () => {
  const t = () => now();
  const cases = [
    ['no Authorization header', () => undefined],
    ['empty Bearer', () => 'Bearer '],
    ['Basic scheme', () => 'Basic YWxpY2U6cGFzc3dvcmQ='],
    ['garbage token', () => 'Bearer not-a-jwt'],
    ['three garbage segments', () => 'Bearer aaa.bbb.ccc'],
    ['token without the scheme', () => alice],
    ['bad signature (RS256, another key)', () => `Bearer ${signRS256(claims(), otherPrivateKey(), { kid })}`],
    ['tampered payload (sub changed, signature kept)', () => {
      const [h, , s] = alice.split('.');
      const p = decodeJwt(alice).payload;
      return `Bearer ${h}.${b64urlJson({ ...p, sub: 'someone-else' })}.${s}`;
    }],
    ['truncated signature', () => `Bearer ${alice.slice(0, -10)}`],
    ['alg none, empty signature', () => `Bearer ${unsignedNone(claims(), { kid })}`],
    ['alg none, real signature kept', () => {
      const [, p, s] = alice.split('.');
      return `Bearer ${b64urlJson({ alg: 'none', typ: 'JWT' })}.${p}.${s}`;
    }],
    ['HS256 signed with the public key PEM', () => `Bearer ${signHS256(claims(), pubPem, { kid })}`],
    ['HS256 signed with the public key PEM (no trailing newline)', () => `Bearer ${signHS256(claims(), pubPem.trim(), { kid })}`],
    ['expired 2 minutes ago', () => `Bearer ${forged(claims({ iat: t() - 600, exp: t() - 120 }))}`],
    ['expired 31+ s ago (just past the leeway)', () => `Bearer ${forged(claims({ iat: t() - 600, exp: t() - 45 }))}`],
    ['nbf 2 minutes in the future', () => `Bearer ${forged(claims({ nbf: t() + 120 }))}`],
    ['wrong audience', () => `Bearer ${forged(claims({ aud: 'some-other-api' }))}`],
    ['wrong issuer', () => `Bearer ${forged(claims({ iss: 'https://evil.example' }))}`],
    ['RS256 token from another issuer key with the same claims', () => `Bearer ${signRS256(decodeJwt(alice).payload, otherPrivateKey(), decodeJwt(alice).header)}`],
  ];
  for (const [name, make] of cases) {
    test(`${name} → 401 on GET and POST /v1/orders`, async () => {
      const [g, p] = await both(make());
      assert401(g, `GET ${name}`);
      assert401(p, `POST ${name}`);
    });
  }

  test('invalid tokens → 401 on every protected endpoint', async () => {
    const bad = 'Bearer not-a-jwt';
    const calls = [
      ['GET', `/v1/orders/${aliceOrder}`],
      ['POST', `/v1/orders/${aliceOrder}/cancel`],
      ['GET', '/v1/admin/dlq'],
      ['POST', '/v1/admin/dlq/orders.saga/redrive'],
    ];
    for (const [method, path] of calls) assert401(await req(srv.url, { method, path, headers: { Authorization: bad } }), `${method} ${path}`);
    const put = await req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', headers: { Authorization: bad },
      body: { name: 'x', price: { amount: 1, currency: 'GBP' }, stock: 1 } });
    assert401(put, 'PUT /v1/products');
  });

  test('public endpoints ignore a bad token or need none', async () => {
    for (const path of ['/healthz', '/readyz', '/.well-known/jwks.json', '/v1/products', '/v1/products/KB-MECH-01']) {
      const r = await req(srv.url, { path });
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
  });

  test('nothing was ordered by the rejected POSTs', async () => {
    for (const who of ['cust-forged', 'someone-else']) {
      const r = await req(srv.url, { path: `/v1/orders?customer=${who}`, token: admin });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.items.length, 0, `${who}: ${r.text}`);
    }
  });
});

describe('403: valid token, missing scope', () => {
  test('--scope orders:read cannot POST (orders, cancel)', async () => {
    const ro = await token({ dataDir, customer: uniq('ro'), scopes: ['orders:read'] });
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/orders', token: ro, body: orderBody() }), 403);
    const g = await req(srv.url, { path: '/v1/orders', token: ro });
    assert.equal(g.status, 200, g.text);
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${aliceOrder}/cancel`, token: ro }), 403);
  });

  test('--scope orders:write cannot read', async () => {
    const wo = await token({ dataDir, customer: uniq('wo'), scopes: ['orders:write'] });
    assertProblem(await req(srv.url, { path: '/v1/orders', token: wo }), 403);
    const p = await req(srv.url, { method: 'POST', path: '/v1/orders', token: wo, body: orderBody() });
    assert.equal(p.status, 202, p.text);
    assertProblem(await req(srv.url, { path: `/v1/orders/${p.json.orderId}`, token: wo }), 403);
  });

  test('a token with no scope claim → 403 (forged with the real key)', async () => {
    const t = forged(claims({ scope: null }));
    assert.equal('scope' in decodeJwt(t).payload, false);
    assertProblem(await req(srv.url, { path: '/v1/orders', token: t }), 403);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/orders', token: t, body: orderBody() }), 403);
  });

  // admin implies every scope (documented in schemas/openapi.yaml).
  test('--scope admin alone: admin endpoints and order reads', async () => {
    const ad = await token({ dataDir, customer: uniq('ad'), scopes: ['admin'] });
    const d = await req(srv.url, { path: '/v1/admin/dlq', token: ad });
    assert.equal(d.status, 200, d.text);
    const o = await req(srv.url, { path: '/v1/orders', token: ad });
    assert.equal(o.status, 200, o.text);
  });

  test('non-admin on admin endpoints → 403', async () => {
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: bob }), 403);
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/admin/dlq/orders.saga/redrive', token: bob }), 403);
    assertProblem(await req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', token: bob,
      body: { name: 'x', price: { amount: 1, currency: 'GBP' }, stock: 1 } }), 403);
    // A forged token whose scope string merely contains "admin" as a substring.
    const sneaky = forged(claims({ scope: 'orders:read orders:write administrator notadmin' }));
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: sneaky }), 403, 'scope "administrator"');
  });

  // Issue 11, hole 1: any "<x>/admin" used to count as admin (the suffix after a slash was
  // granted whatever the resource server). Failed on the old code (200 on /v1/admin/dlq).
  test("another resource server's admin scope is not Orderly's admin; Orderly's own is", async () => {
    for (const scope of ['other-api/admin', 'x/admin orders:read', 'orderlyx/admin', 'evil/orderly/admin']) {
      const t = await token({ dataDir, customer: uniq('foreign'), scopes: scope.split(' ') });
      assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: t }), 403, scope);
      assertProblem(await req(srv.url, { method: 'PUT', path: '/v1/products/MS-WL-02', token: t,
        body: { name: 'x', price: { amount: 1, currency: 'GBP' }, stock: 1 } }), 403, scope);
    }
    const foreignWrite = await token({ dataDir, customer: uniq('foreign'), scopes: ['other-api/orders:write'] });
    assertProblem(await req(srv.url, { method: 'POST', path: '/v1/orders', token: foreignWrite, body: orderBody() }), 403);
    const ours = await token({ dataDir, customer: uniq('ours'), scopes: ['orderly/admin'] });
    const d = await req(srv.url, { path: '/v1/admin/dlq', token: ours });
    assert.equal(d.status, 200, d.text);
  });

  test('the scope claim is not confused by another claim called admin', async () => {
    const t = forged(claims({ extra: { admin: true, roles: ['admin'] } }));
    assertProblem(await req(srv.url, { path: '/v1/admin/dlq', token: t }), 403);
  });
});

describe('ownership', () => {
  test("another customer's order → 404 on GET and cancel; it is not in their list", async () => {
    assertProblem(await req(srv.url, { path: `/v1/orders/${aliceOrder}`, token: bob }), 404);
    assertProblem(await req(srv.url, { method: 'POST', path: `/v1/orders/${aliceOrder}/cancel`, token: bob }), 404);
    const l = await req(srv.url, { path: '/v1/orders?limit=100', token: bob });
    assert.equal(l.status, 200);
    assert.ok(!l.json.items.some((o) => o.orderId === aliceOrder));
    const own = await req(srv.url, { path: `/v1/orders/${aliceOrder}`, token: alice });
    assert.equal(own.status, 200);
    assert.notEqual(own.json.cancellationReason, 'customer_request');
  });

  test('a forged token with the same sub is the same customer (sub is the identity)', async () => {
    const sub = decodeJwt(alice).payload.sub;
    const r = await req(srv.url, { path: `/v1/orders/${aliceOrder}`, token: forged(claims({ sub })) });
    assert.equal(r.status, 200, r.text);
  });

  test('admin sees any order', async () => {
    const r = await req(srv.url, { path: `/v1/orders/${aliceOrder}`, token: admin });
    assert.equal(r.status, 200, r.text);
  });
});
