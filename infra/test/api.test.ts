// HTTP API routes (from openapi.yaml), JWT authorizer, stage, and the Cognito pool.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_OPENAPI_FILE } from '../lib/openapi';
import { RESOURCE_SERVER_ID } from '../lib/orderly-stack';
import { P, refId, resourcesOfType, synthesized } from './support/synth';

const { json } = synthesized();
const R = json.Resources;
const routes = resourcesOfType(json, 'AWS::ApiGatewayV2::Route');
const routeByKey = new Map(routes.map(([id, r]) => [r.Properties!.RouteKey as string, { id, p: r.Properties! }]));

// Read openapi.yaml independently of lib/openapi.ts, so a bug there cannot hide here.
const doc = parse(fs.readFileSync(DEFAULT_OPENAPI_FILE, 'utf8'));
const expected: Array<{ key: string; scopes: string[] | null; service: string }> = [];
for (const [p, item] of Object.entries<any>(doc.paths)) {
  // Erasure is the orders function's on AWS too (ADR 0017); the rest of /v1/admin is local-only.
  const erasure = p.startsWith('/v1/admin/customers/') || p.startsWith('/v1/admin/erasures/');
  const service = p.startsWith('/v1/orders') || erasure ? 'orders' : p.startsWith('/v1/products') ? 'inventory' : undefined;
  if (!service) continue;
  // The saga read model exists on the embedded gateway only (it reads the bus archive; ADR 0015).
  if (p === '/v1/orders/{orderId}/saga') continue;
  for (const m of ['get', 'put', 'post', 'delete', 'patch']) {
    if (!item[m]) continue;
    const sec: any[] = item[m].security;
    const scopes = sec.length === 0 ? null : [...new Set(sec.flatMap((req) => Object.values<string[]>(req).flat()))];
    expected.push({ key: `${m.toUpperCase()} ${p}`, scopes, service });
  }
}

describe('HTTP API routes', () => {
  it('equal the openapi.yaml operations under /v1/orders, /v1/products and erasure (method + path)', () => {
    assert.ok(expected.length >= 7);
    assert.deepEqual([...routeByKey.keys()].sort(), expected.map((e) => e.key).sort());
  });

  it('have no route for the local-only paths', () => {
    for (const key of routeByKey.keys())
      assert.doesNotMatch(key, /\/v1\/admin\/(?!customers\/\{customerId\}\/erase$|erasures\/\{erasureId\}$)|healthz|readyz|metrics|well-known/);
  });

  const authorizers = resourcesOfType(json, 'AWS::ApiGatewayV2::Authorizer');
  for (const e of expected) {
    it(`${e.key}: ${e.scopes ? `JWT, scopes ${e.scopes.join(' ')} (+admin)` : 'public'}, -> ${P}-${e.service}-api`, () => {
      const { p } = routeByKey.get(e.key)!;
      if (e.scopes === null) {
        assert.equal(p.AuthorizationType, 'NONE');
        assert.equal(p.AuthorizerId, undefined);
      } else {
        assert.equal(p.AuthorizationType, 'JWT');
        assert.equal(refId(p.AuthorizerId), authorizers[0][0]);
        // Cognito names resource-server scopes "<identifier>/<scope>"; admin grants every scope.
        const want = [...new Set([...e.scopes, 'admin'])].map((s) => `${RESOURCE_SERVER_ID}/${s}`).sort();
        assert.deepEqual([...p.AuthorizationScopes].sort(), want);
      }
      const integrationId = (p.Target['Fn::Join'][1] as any[]).map(refId).find(Boolean)!;
      const integration = R[integrationId].Properties!;
      assert.equal(integration.IntegrationType, 'AWS_PROXY');
      assert.equal(integration.PayloadFormatVersion, '2.0');
      const fnId = refId(integration.IntegrationUri)!;
      assert.equal(R[fnId].Properties!.FunctionName, `${P}-${e.service}-api`);
    });
  }

  it('one JWT authorizer: the Cognito pool as issuer, every app client of the pool as audience', () => {
    assert.equal(authorizers.length, 1);
    const a = authorizers[0][1].Properties!;
    assert.equal(a.AuthorizerType, 'JWT');
    assert.deepEqual(a.IdentitySource, ['$request.header.Authorization']);
    const pool = resourcesOfType(json, 'AWS::Cognito::UserPool')[0][0];
    assert.ok(JSON.stringify(a.JwtConfiguration.Issuer).includes(pool));
    const clients = resourcesOfType(json, 'AWS::Cognito::UserPoolClient').map(([id]) => id);
    assert.equal(clients.length, 3);
    assert.deepEqual(a.JwtConfiguration.Audience.map(refId).sort(), clients.sort());
  });

  it('default stage: auto-deploy, throttling, JSON access logs to a log group with retention', () => {
    const stages = resourcesOfType(json, 'AWS::ApiGatewayV2::Stage');
    assert.equal(stages.length, 1);
    const s = stages[0][1].Properties!;
    assert.equal(s.StageName, '$default');
    assert.equal(s.AutoDeploy, true);
    assert.ok(s.DefaultRouteSettings.ThrottlingRateLimit > 0);
    assert.ok(s.DefaultRouteSettings.ThrottlingBurstLimit > 0);
    const lg = R[refId(s.AccessLogSettings.DestinationArn)!];
    assert.equal(lg.Type, 'AWS::Logs::LogGroup');
    assert.ok(lg.Properties!.RetentionInDays > 0);
    const format = JSON.parse(s.AccessLogSettings.Format);
    assert.equal(format.requestId, '$context.requestId');
    assert.equal(format.status, '$context.status');
    assert.equal(lg.Properties!.LogGroupName, `/aws/apigateway/${P}-http-api`);
  });
});

// Cognito (user pool, resource server, the customer, machine and admin clients): identity.test.ts.
