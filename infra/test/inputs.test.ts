// The two inputs (topology.json, openapi.yaml) are read and checked at synth time.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { lambdaCode } from '../lib/lambda-code';
import { apiSpecFromDocument, loadApiSpec } from '../lib/openapi';
import { loadTopology, SQS_MAX_DELAY_SECONDS, Topology, validateTopology } from '../lib/topology';
import { tempDir } from './support/stub-lambdas';
import { build } from './support/synth';

const topology = loadTopology();

function withRules(rules: object[]): unknown {
  return {
    services: [{ name: 'orders', handlers: ['api', 'events'], produces: [], rules }],
    fulfilmentTimeoutSeconds: 3600,
    sagaTimeoutSeconds: 30,
    retryBackoff: { baseMs: 200, capMs: 3000, budgetSeconds: 20 },
    sweepInput: '{"orderly":"sweep"}',
  };
}

describe('topology.json', () => {
  it('has the five services, each with an events handler, and names rules after their owner', () => {
    assert.deepEqual(
      topology.services.map((s) => s.name),
      ['orders', 'inventory', 'payments', 'shipping', 'notifications'],
    );
    for (const s of topology.services) {
      assert.ok(s.handlers.includes('events'), s.name);
      for (const r of s.rules) assert.ok(r.name.startsWith(`${s.name}.`), r.name);
    }
    const timers = topology.services.flatMap((s) => s.rules).filter((r) => r.timerDelaySeconds !== undefined);
    assert.deepEqual(
      timers.map((r) => [r.name, r.timerDelaySeconds]),
      [
        ['orders.timers', 30],
        ['shipping.carrier', 5],
      ],
    );
  });

  it(`refuses a timer longer than the SQS maximum delay (${SQS_MAX_DELAY_SECONDS} s)`, () => {
    const ok = withRules([{ name: 'orders.t', types: ['orderly.orders.SagaTimedOut.v1'], timerDelaySeconds: 900, maxReceiveCount: 10 }]);
    validateTopology(ok);
    const tooLong = withRules([{ name: 'orders.t', types: ['orderly.orders.SagaTimedOut.v1'], timerDelaySeconds: 901, maxReceiveCount: 10 }]);
    assert.throws(() => validateTopology(tooLong), /exceeds the SQS maximum of 900 s.*EventBridge Scheduler/);
  });

  it('refuses a timer rule whose type another rule also matches (it would not be delayed there)', () => {
    const overlap = withRules([
      { name: 'orders.t', types: ['orderly.orders.SagaTimedOut.v1'], timerDelaySeconds: 30, maxReceiveCount: 10 },
      { name: 'orders.saga', types: ['orderly.orders.SagaTimedOut.v1', 'orderly.orders.OrderPlaced.v1'], maxReceiveCount: 10 },
    ]);
    assert.throws(() => validateTopology(overlap), /shares orderly\.orders\.SagaTimedOut\.v1 with rule orders\.saga/);
  });

  it('refuses malformed entries', () => {
    assert.throws(() => validateTopology({ services: [] }), /no services/);
    assert.throws(() => validateTopology(withRules([{ name: 'payments.x', types: ['orderly.a.B.v1'], maxReceiveCount: 10 }])), /named after its owner/);
    assert.throws(() => validateTopology(withRules([{ name: 'orders.x', types: [], maxReceiveCount: 10 }])), /no types/);
    assert.throws(() => validateTopology(withRules([{ name: 'orders.x', types: ['orderly.a.B.v1'] }])), /maxReceiveCount must be an integer/);
    assert.throws(
      () => validateTopology(withRules([{ name: 'orders.x', types: ['orderly.a.B.v1'], maxReceiveCount: 1001 }])),
      /maxReceiveCount must be an integer in 1\.\.1000/,
    );
    assert.throws(
      () => validateTopology({ services: [{ name: 'orders', handlers: ['api'], produces: [], rules: [] }] }),
      /needs an "events" handler/,
    );
  });

  it('the stack itself refuses a timer over 900 s even if handed an unvalidated topology', () => {
    const bad: Topology = {
      ...topology,
      services: topology.services.map((s) =>
        s.name === 'shipping' ? { ...s, rules: s.rules.map((r) => (r.timerDelaySeconds ? { ...r, timerDelaySeconds: 901 } : r)) } : s,
      ),
    };
    assert.throws(() => build({ topology: bad }), /901 s timer exceeds the SQS maximum delay of 900 s/);
  });

  it('the fulfilment deadline comes after every queue has run out of retries', () => {
    // 10 receives x 180 s visibility = 1,800 s, inside the deployed 3,600 s deadline.
    assert.equal(topology.fulfilmentTimeoutSeconds, 3600);
    assert.throws(
      () => build({ topology: { ...topology, fulfilmentTimeoutSeconds: 1800 } }),
      /10 receives x 180 s = 1800 s of retries outlast the 1800 s fulfilment deadline/,
    );
    assert.throws(() => validateTopology({ services: topology.services }), /fulfilmentTimeoutSeconds must be a positive integer/);
  });

  it('the saga timeout comes after every message has run out of retries (the bus backoff on AWS too)', () => {
    assert.equal(topology.sagaTimeoutSeconds, 30);
    assert.deepEqual(topology.retryBackoff, { baseMs: 200, capMs: 3000, budgetSeconds: 20 });
    assert.throws(
      () => validateTopology({ ...topology, retryBackoff: { ...topology.retryBackoff, budgetSeconds: 30 } }),
      /retries take up to 30 s, not less than the 30 s saga timeout/,
    );
    assert.throws(() => validateTopology({ ...topology, retryBackoff: { baseMs: 5, capMs: 1 } }), /retryBackoff must be/);
    assert.throws(() => validateTopology({ ...topology, sagaTimeoutSeconds: 0 }), /sagaTimeoutSeconds must be a positive integer/);
  });
});

describe('openapi.yaml', () => {
  const api = loadApiSpec();

  it('routes /v1/orders... and erasure to orders and /v1/products... to inventory', () => {
    assert.ok(api.routes.length > 0);
    for (const r of api.routes) {
      const erasure = r.path.startsWith('/v1/admin/customers/') || r.path.startsWith('/v1/admin/erasures/');
      const expected = r.path.startsWith('/v1/orders') || erasure ? 'orders' : r.path.startsWith('/v1/products') ? 'inventory' : undefined;
      assert.equal(r.service, expected, `${r.method} ${r.path}`);
    }
  });

  it('leaves the local-gateway-only paths out', () => {
    assert.deepEqual([...api.localOnly].sort(), [
      '/.well-known/jwks.json', '/healthz', '/metrics', '/readyz', '/v1/admin/backup', '/v1/admin/dlq',
      '/v1/admin/dlq/{rule}/redrive', '/v1/admin/dlq/{rule}/{id}/redrive', '/v1/admin/orders', '/v1/admin/queues',
      '/v1/orders/{orderId}/saga',
    ]);
    for (const r of api.routes) assert.ok(!api.localOnly.includes(r.path), r.path);
  });

  it('takes each operation\'s scopes from its security requirement and the scope list from the oauth2 scheme', () => {
    assert.deepEqual(Object.keys(api.scopes).sort(), ['admin', 'orders:read', 'orders:write']);
    assert.equal(api.superScope, 'admin');
    const byKey = Object.fromEntries(api.routes.map((r) => [`${r.method} ${r.path}`, r]));
    assert.deepEqual(byKey['POST /v1/orders'].scopes, ['orders:write']);
    assert.deepEqual(byKey['GET /v1/orders/{orderId}'].scopes, ['orders:read']);
    assert.deepEqual(byKey['PUT /v1/products/{sku}'].scopes, ['admin']);
    assert.equal(byKey['GET /v1/products'].isPublic, true);
    assert.deepEqual(byKey['GET /v1/products'].scopes, []);
  });

  it('fails on a path that is neither routed nor local-only, and on an undeclared scope', () => {
    const doc = (paths: object) => ({
      paths,
      components: { securitySchemes: { oauth2: { type: 'oauth2', flows: { clientCredentials: { scopes: { 'orders:read': 'x' } } } } } },
    });
    assert.throws(() => apiSpecFromDocument(doc({ '/v2/things': { get: { security: [] } } })), /neither routed to a service/);
    assert.throws(
      () => apiSpecFromDocument(doc({ '/v1/orders': { get: { security: [{ oauth2: ['orders:delete'] }] } } })),
      /scope orders:delete is not declared/,
    );
    assert.throws(() => apiSpecFromDocument(doc({ '/v1/orders': { get: {} } })), /no security requirement/);
  });
});

describe('Lambda packages', () => {
  it('uses <dir>/<service>.zip, else <dir>/<service>/bootstrap, else fails with what to do', () => {
    const dir = tempDir('orderly-lambda-code-');
    assert.throws(() => lambdaCode(dir, 'orders'), /orders\.zip \(run `make lambda`.*-c lambdaDir=DIR/);
    fs.mkdirSync(path.join(dir, 'orders'));
    fs.writeFileSync(path.join(dir, 'orders', 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal((lambdaCode(dir, 'orders') as unknown as { path: string }).path, path.join(dir, 'orders'));
    fs.writeFileSync(path.join(dir, 'orders.zip'), 'zip');
    assert.equal((lambdaCode(dir, 'orders') as unknown as { path: string }).path, path.join(dir, 'orders.zip'));
  });
});
