// Identity on AWS: one user pool per stage with three app clients whose jobs do not overlap.
//   customer: authorization code + PKCE, public (no secret), customer scopes only;
//   machine:  client credentials, customer scopes only;
//   admin:    client credentials, the admin scope only.
// The scope lists are computed here from openapi.yaml, independently of lib/identity.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { parse } from 'yaml';
import { DEFAULT_CALLBACK_URLS, DEFAULT_LOGOUT_URLS, splitList, validateRedirectUrls } from '../lib/identity';
import { StageNames, validateCognitoDomainPrefix } from '../lib/naming';
import { DEFAULT_OPENAPI_FILE } from '../lib/openapi';
import { RESOURCE_SERVER_ID } from '../lib/orderly-stack';
import { build, CfnTemplate, P, refId, resourcesOfType, synthesized } from './support/synth';

const { json } = synthesized();

// ---- what openapi.yaml says ------------------------------------------------------------------
const doc = parse(fs.readFileSync(DEFAULT_OPENAPI_FILE, 'utf8'));
const DECLARED = Object.keys(doc.components.securitySchemes.oauth2.flows.clientCredentials.scopes).sort();
const ADMIN = 'admin';
const routed = new Set<string>();
for (const [p, item] of Object.entries<any>(doc.paths)) {
  if (!p.startsWith('/v1/orders') && !p.startsWith('/v1/products')) continue; // the routes on AWS
  for (const m of ['get', 'put', 'post', 'delete', 'patch']) {
    for (const req of item[m]?.security ?? []) for (const list of Object.values<string[]>(req)) list.forEach((s) => routed.add(s));
  }
}
/** What a customer needs: the scopes the protected routes name, except admin. */
const CUSTOMER = [...routed].filter((s) => s !== ADMIN).sort();
const full = (s: string) => `${RESOURCE_SERVER_ID}/${s}`;

// ---- what the template says ------------------------------------------------------------------
function clientsOf(t: CfnTemplate) {
  const rsId = resourcesOfType(t, 'AWS::Cognito::UserPoolResourceServer')[0][0];
  /** AllowedOAuthScopes as Cognito will see them: "<Ref resource server>/<scope>" -> orderly/<scope>. */
  const scopes = (p: Record<string, any>): string[] =>
    (p.AllowedOAuthScopes ?? [])
      .map((x: any) => {
        if (typeof x === 'string') return x;
        const [first, rest] = x['Fn::Join'][1];
        assert.equal(refId(first), rsId, 'a resource-server scope names this pool\'s resource server');
        return `${RESOURCE_SERVER_ID}${rest}`;
      })
      .sort();
  const out = new Map<string, { id: string; p: Record<string, any>; scopes: string[] }>();
  for (const [id, c] of resourcesOfType(t, 'AWS::Cognito::UserPoolClient')) {
    out.set(c.Properties!.ClientName, { id, p: c.Properties!, scopes: scopes(c.Properties!) });
  }
  return out;
}
const clients = clientsOf(json);
const customer = clients.get(`${P}-customer`)!;
const machine = clients.get(`${P}-machine`)!;
const admin = clients.get(`${P}-admin`)!;

describe('openapi.yaml scopes (the input)', () => {
  it('declares orders:read, orders:write and admin; the protected routes name orders:read, orders:write and admin', () => {
    assert.deepEqual(DECLARED, ['admin', 'orders:read', 'orders:write']);
    assert.deepEqual(CUSTOMER, ['orders:read', 'orders:write']);
  });
});

describe('user pool', () => {
  const pools = resourcesOfType(json, 'AWS::Cognito::UserPool');
  const pool = pools[0][1];
  const p = pool.Properties!;

  it(`one pool, "${P}", retained on stack deletion`, () => {
    assert.equal(pools.length, 1);
    assert.equal(p.UserPoolName, P);
    assert.equal(pool.DeletionPolicy, 'Retain');
  });

  it('customers sign up with a verified e-mail address (self sign-up by default)', () => {
    assert.equal(p.AdminCreateUserConfig.AllowAdminCreateUserOnly, false);
    assert.deepEqual(p.UsernameAttributes, ['email']);
    assert.deepEqual(p.AutoVerifiedAttributes, ['email']);
    assert.equal(p.UsernameConfiguration.CaseSensitive, false);
    assert.deepEqual(p.AccountRecoverySetting.RecoveryMechanisms, [{ Name: 'verified_email', Priority: 1 }]);
  });

  it('strong password policy and TOTP MFA required for every user, no SMS', () => {
    const pw = p.Policies.PasswordPolicy;
    assert.ok(pw.MinimumLength >= 12);
    for (const k of ['RequireLowercase', 'RequireNumbers', 'RequireSymbols', 'RequireUppercase']) assert.equal(pw[k], true, k);
    assert.equal(p.MfaConfiguration, 'ON');
    assert.deepEqual(p.EnabledMfas, ['SOFTWARE_TOKEN_MFA']);
  });

  it(`resource server "${RESOURCE_SERVER_ID}" defines exactly the openapi scopes`, () => {
    const rs = resourcesOfType(json, 'AWS::Cognito::UserPoolResourceServer');
    assert.equal(rs.length, 1);
    assert.equal(rs[0][1].Properties!.Identifier, RESOURCE_SERVER_ID);
    assert.deepEqual(rs[0][1].Properties!.Scopes.map((s: any) => s.ScopeName).sort(), DECLARED);
  });

  it('a hosted domain (hosted UI and token endpoint), by default orderly-<stage>-<account id>', () => {
    const d = resourcesOfType(json, 'AWS::Cognito::UserPoolDomain');
    assert.equal(d.length, 1);
    assert.deepEqual(d[0][1].Properties!.Domain, { 'Fn::Join': ['', [`${P}-`, { Ref: 'AWS::AccountId' }]] });
  });
});

describe('app clients', () => {
  it(`exactly three: ${P}-customer, ${P}-machine, ${P}-admin`, () => {
    assert.deepEqual([...clients.keys()].sort(), [`${P}-admin`, `${P}-customer`, `${P}-machine`]);
  });

  it('customer: authorization code grant only, public (no secret), hosted UI with Cognito users', () => {
    const c = customer.p;
    assert.equal(c.GenerateSecret, false);
    assert.deepEqual(c.AllowedOAuthFlows, ['code']);
    assert.equal(c.AllowedOAuthFlowsUserPoolClient, true);
    assert.deepEqual(c.SupportedIdentityProviders, ['COGNITO']);
    assert.deepEqual(c.CallbackURLs, [...DEFAULT_CALLBACK_URLS]);
    assert.deepEqual(c.LogoutURLs, [...DEFAULT_LOGOUT_URLS]);
    assert.deepEqual(c.CallbackURLs, ['http://localhost:3000/callback'], 'the documented default');
    assert.equal(c.EnableTokenRevocation, true);
    assert.equal(c.PreventUserExistenceErrors, 'ENABLED');
  });

  it('customer: the customer scopes (+ openid, email), never admin', () => {
    assert.deepEqual(customer.scopes, ['email', 'openid', ...CUSTOMER.map(full)].sort());
    assert.ok(!customer.scopes.includes(full(ADMIN)));
  });

  it('machine: client credentials with a secret, the customer scopes, never admin', () => {
    assert.equal(machine.p.GenerateSecret, true);
    assert.deepEqual(machine.p.AllowedOAuthFlows, ['client_credentials']);
    assert.deepEqual(machine.scopes, CUSTOMER.map(full));
    assert.ok(!machine.scopes.includes(full(ADMIN)));
  });

  it('admin: client credentials with a secret, the admin scope and nothing else', () => {
    assert.equal(admin.p.GenerateSecret, true);
    assert.deepEqual(admin.p.AllowedOAuthFlows, ['client_credentials']);
    assert.deepEqual(admin.scopes, [full(ADMIN)]);
  });

  it('the admin scope is allowed on the admin client only', () => {
    const holders = [...clients].filter(([, c]) => c.scopes.includes(full(ADMIN))).map(([name]) => name);
    assert.deepEqual(holders, [`${P}-admin`]);
  });

  it('no client has the implicit grant or a password/SRP/custom sign-in flow; access tokens live 1 hour', () => {
    for (const [name, c] of clients) {
      assert.ok(!(c.p.AllowedOAuthFlows as string[]).includes('implicit'), name);
      assert.deepEqual(c.p.ExplicitAuthFlows, ['ALLOW_REFRESH_TOKEN_AUTH'], name);
      assert.equal(c.p.AccessTokenValidity, 60, name);
      assert.equal(c.p.TokenValidityUnits.AccessToken, 'minutes', name);
    }
  });
});

describe('API Gateway accepts each client', () => {
  it('the JWT authorizer lists every client as an audience, and the pool as issuer', () => {
    const [[, a]] = resourcesOfType(json, 'AWS::ApiGatewayV2::Authorizer');
    const audience = (a.Properties!.JwtConfiguration.Audience as any[]).map(refId).sort();
    assert.deepEqual(audience, [customer.id, machine.id, admin.id].sort());
    const pool = resourcesOfType(json, 'AWS::Cognito::UserPool')[0][0];
    assert.ok(JSON.stringify(a.Properties!.JwtConfiguration.Issuer).includes(pool));
  });
});

describe('outputs', () => {
  const out = json.Outputs as Record<string, any>;
  it('one output per client id, the user pool, the hosted UI base URL and the token URL', () => {
    assert.equal(refId(out.CustomerClientId.Value), customer.id);
    assert.equal(refId(out.MachineClientId.Value), machine.id);
    assert.equal(refId(out.AdminClientId.Value), admin.id);
    assert.equal(refId(out.UserPoolId.Value), resourcesOfType(json, 'AWS::Cognito::UserPool')[0][0]);
    assert.ok(JSON.stringify(out.TokenUrl.Value).endsWith('/oauth2/token"]]}'));
    assert.ok(out.AuthBaseUrl);
    assert.equal(out.ClientId, undefined, 'the single ClientId output is gone: each client has its own');
  });
});

describe('context', () => {
  it('-c customerCallbackUrls / customerLogoutUrls / selfSignUp=false / cognitoDomainPrefix reach the template', () => {
    const b = build({
      customerCallbackUrls: ['https://shop.example.com/callback', 'http://localhost:5173/callback'],
      customerLogoutUrls: ['https://shop.example.com/'],
      selfSignUp: false,
      cognitoDomainPrefix: 'shop-login-dev',
    });
    const t = Template.fromStack(b.stack).toJSON() as CfnTemplate;
    const c = clientsOf(t).get(`${P}-customer`)!;
    assert.deepEqual(c.p.CallbackURLs, ['https://shop.example.com/callback', 'http://localhost:5173/callback']);
    assert.deepEqual(c.p.LogoutURLs, ['https://shop.example.com/']);
    const [[, pool]] = resourcesOfType(t, 'AWS::Cognito::UserPool');
    assert.equal(pool.Properties!.AdminCreateUserConfig.AllowAdminCreateUserOnly, true);
    const [[, d]] = resourcesOfType(t, 'AWS::Cognito::UserPoolDomain');
    assert.equal(d.Properties!.Domain, 'shop-login-dev');
  });

  it('comma-separated URL lists are split; Cognito\'s rules on redirect URLs are enforced', () => {
    assert.deepEqual(splitList('https://a.example/cb, http://localhost:3000/cb'), ['https://a.example/cb', 'http://localhost:3000/cb']);
    assert.equal(splitList(undefined), undefined);
    assert.throws(() => validateRedirectUrls(['http://shop.example.com/callback'], 'customerCallbackUrls'), /http only for localhost; use https/);
    assert.throws(() => validateRedirectUrls(['https://shop.example.com/cb#x'], 'customerCallbackUrls'), /fragment/);
    assert.throws(() => validateRedirectUrls(['not a url'], 'customerCallbackUrls'), /is not a URL/);
    assert.throws(() => validateRedirectUrls([], 'customerCallbackUrls'), /no URL given/);
    assert.throws(() => build({ customerCallbackUrls: ['http://shop.example.com/callback'] }), /customerCallbackUrls: .*use https/);
  });

  it('domain prefixes: Cognito\'s reserved words, characters and length are refused', () => {
    assert.throws(() => validateCognitoDomainPrefix('my-aws-shop', 'dev'), /reserved word "aws"/);
    assert.throws(() => validateCognitoDomainPrefix('Shop', 'dev'), /lowercase letters/);
    assert.throws(() => validateCognitoDomainPrefix('x'.repeat(64), 'dev'), /over 63/);
    // A stage that puts a reserved word into the default prefix says how to get out of it.
    assert.throws(() => new StageNames('amazon').defaultCognitoDomainPrefix('123456789012', false), /reserved word "amazon".*-c cognitoDomainPrefix/);
  });
});
