// The REST routes of the HTTP API, read from schemas/openapi.yaml at synth time.
//
// /v1/orders... is served by the orders function and /v1/products... by the inventory
// function (both with _HANDLER=api). The rest of the contract is local-gateway only and
// deliberately NOT routed on AWS:
//   /v1/admin/* (but erasure) DLQ inspection and redrive, queue statistics, every customer's
//                            orders, backups: on AWS use the SQS console or the
//                            StartMessageMoveTask (redrive) API on the rule's DLQ, CloudWatch
//                            and AWS Backup;
// Erasure (/v1/admin/customers/{customerId}/erase, /v1/admin/erasures/{erasureId}) is the
// orders function's, on AWS as locally (docs/adr/0017).
//   /v1/orders/{orderId}/saga  one saga from the embedded bus's archive (the console's
//                            swimlane): on AWS the console draws the order's own timeline;
//   /healthz, /readyz        liveness/readiness of the local process: on AWS, health is the
//                            Lambda and API Gateway metrics;
//   /.well-known/jwks.json   the local signing key: on AWS, Cognito publishes the JWKS.
// Any other path makes synth fail, so a new path in openapi.yaml forces a decision here.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

export const DEFAULT_OPENAPI_FILE = path.resolve(__dirname, '..', '..', 'schemas', 'openapi.yaml');

/** Path prefix -> the service whose `api` handler serves it. */
export const ROUTE_OWNERS: ReadonlyArray<{ readonly prefix: string; readonly service: string }> = [
  { prefix: '/v1/orders', service: 'orders' },
  { prefix: '/v1/products', service: 'inventory' },
  { prefix: '/v1/admin/customers', service: 'orders' },
  { prefix: '/v1/admin/erasures', service: 'orders' },
];

/** Paths (or path prefixes ending in '/') that exist only on the local gateway. */
export const LOCAL_ONLY_PATHS: readonly string[] = [
  '/v1/admin/dlq',
  '/v1/admin/dlq/',
  '/v1/admin/queues',
  '/v1/admin/backup',
  '/v1/admin/orders',
  '/v1/orders/{orderId}/saga',
  '/healthz',
  '/readyz',
  '/metrics',
  '/.well-known/jwks.json',
];

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface ApiRoute {
  readonly method: string; // upper case, e.g. GET
  readonly path: string; // OpenAPI template, e.g. /v1/orders/{orderId} (same syntax as API Gateway)
  readonly service: string;
  readonly operationId?: string;
  /** Scopes named by the operation's `security` (bare names, e.g. `orders:read`); empty when public. */
  readonly scopes: readonly string[];
  /** `security: []`: no token needed. */
  readonly isPublic: boolean;
}

export interface ApiSpec {
  readonly routes: readonly ApiRoute[];
  /** The OAuth scopes declared by the oauth2 security scheme: name -> description. */
  readonly scopes: Readonly<Record<string, string>>;
  /** Scope that implies every other scope (openapi: "admin grants every scope"). */
  readonly superScope?: string;
  /** Paths of the document left out of the HTTP API (local gateway only). */
  readonly localOnly: readonly string[];
}

function ownerOf(p: string): string | undefined {
  return ROUTE_OWNERS.find((o) => p === o.prefix || p.startsWith(`${o.prefix}/`))?.service;
}

function isLocalOnly(p: string): boolean {
  return LOCAL_ONLY_PATHS.some((l) => (l.endsWith('/') ? p.startsWith(l) : p === l));
}

export function loadApiSpec(file: string = DEFAULT_OPENAPI_FILE): ApiSpec {
  return apiSpecFromDocument(parse(fs.readFileSync(file, 'utf8')), file);
}

export function apiSpecFromDocument(doc: any, origin = 'openapi'): ApiSpec {
  const fail = (msg: string): never => {
    throw new Error(`${origin}: ${msg}`);
  };
  if (!doc || typeof doc !== 'object' || !doc.paths) fail('no paths');

  const schemeScopes: Record<string, string> = {};
  const schemes = doc.components?.securitySchemes ?? {};
  for (const scheme of Object.values<any>(schemes)) {
    if (scheme?.type !== 'oauth2') continue;
    for (const flow of Object.values<any>(scheme.flows ?? {})) {
      for (const [name, description] of Object.entries<any>(flow?.scopes ?? {})) schemeScopes[name] = String(description);
    }
  }
  if (Object.keys(schemeScopes).length === 0) fail('no oauth2 scopes declared in components.securitySchemes');

  // openapi.yaml: "a token with `admin` may call every operation, whatever scope it names".
  const superScope = 'admin' in schemeScopes ? 'admin' : undefined;

  const routes: ApiRoute[] = [];
  const localOnly: string[] = [];
  for (const [p, item] of Object.entries<any>(doc.paths)) {
    if (isLocalOnly(p)) {
      localOnly.push(p);
      continue;
    }
    const service = ownerOf(p);
    if (!service) fail(`path ${p} is neither routed to a service (ROUTE_OWNERS) nor local-only (LOCAL_ONLY_PATHS)`);
    for (const m of HTTP_METHODS) {
      const op = item?.[m];
      if (!op) continue;
      const security = op.security ?? doc.security;
      if (!Array.isArray(security)) fail(`${m.toUpperCase()} ${p}: no security requirement (use [] for public)`);
      const isPublic = security.length === 0;
      const scopes = new Set<string>();
      for (const requirement of security) {
        for (const list of Object.values<any>(requirement ?? {})) for (const s of list ?? []) scopes.add(String(s));
      }
      for (const s of scopes) if (!(s in schemeScopes)) fail(`${m.toUpperCase()} ${p}: scope ${s} is not declared by the oauth2 scheme`);
      if (!isPublic && scopes.size === 0) fail(`${m.toUpperCase()} ${p}: protected but names no scope`);
      routes.push({
        method: m.toUpperCase(),
        path: p,
        service: service as string,
        operationId: op.operationId,
        scopes: [...scopes].sort(),
        isPublic,
      });
    }
  }
  if (routes.length === 0) fail('no routable operations');
  return { routes, scopes: schemeScopes, superScope, localOnly };
}
