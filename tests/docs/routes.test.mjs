// Every route in schemas/openapi.yaml is served by the gateway, and every
// gateway route is in openapi.yaml. The gateway's routes are read from the C++
// source: the router.add("METHOD", "/path", ...) / router_.add(...) calls in
// services/*/src/api.cpp (each service's routes) and hosts/embedded/src/gateway.cpp
// (health, metrics, JWKS, admin) and hosts/embedded/src/console.cpp (the console's
// read models; its page and assets under /console are not API routes). Path parameters are {name} on both sides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT, read } from './lib.mjs';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

// Source files that register routes.
function routeSources() {
  const out = [];
  for (const svc of readdirSync(join(REPO_ROOT, 'services')).sort()) {
    const rel = `services/${svc}/src/api.cpp`;
    if (existsSync(join(REPO_ROOT, rel))) out.push(rel);
  }
  out.push('hosts/embedded/src/gateway.cpp', 'hosts/embedded/src/console.cpp');
  return out;
}

// Strips // and /* */ comments so commented-out routes do not count.
function withoutComments(src) {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"])\/\/.*$/gm, '$1');
}

export function gatewayRoutes() {
  const routes = new Map(); // "METHOD /path" -> file
  for (const file of routeSources()) {
    const src = withoutComments(read(file));
    for (const m of src.matchAll(/\brouter_?\s*\.\s*add\s*\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"/g)) {
      // The console's page and assets are a web page, not the API: not in openapi.yaml.
      if (m[2] === '/console' || m[2].startsWith('/console/')) continue;
      const key = `${m[1]} ${m[2]}`;
      assert.ok(!routes.has(key), `${key} is registered twice (${routes.get(key)} and ${file})`);
      routes.set(key, file);
    }
  }
  return routes;
}

export function openapiRoutes() {
  const doc = yaml.load(read('schemas/openapi.yaml'));
  const routes = new Set();
  for (const [path, item] of Object.entries(doc.paths ?? {}))
    for (const m of METHODS) if (item?.[m]) routes.add(`${m.toUpperCase()} ${path}`);
  return routes;
}

test('the route scanner finds the gateway\'s routes in the C++ source', () => {
  const routes = gatewayRoutes();
  assert.ok(routes.size >= 10, `only ${routes.size} routes found: did the router.add(...) syntax change?`);
  assert.ok(routes.has('POST /v1/orders'));
  assert.ok(routes.has('GET /v1/orders/{orderId}'));
  assert.ok(routes.has('GET /healthz'));
  for (const [key, file] of routes) assert.match(key, /^[A-Z]+ \/[A-Za-z0-9._\-/{}]*$/, `${file}: odd route ${key}`);
});

test('every operation in openapi.yaml is served by the gateway', () => {
  const served = gatewayRoutes();
  const missing = [...openapiRoutes()].filter((r) => !served.has(r));
  assert.deepEqual(missing, [], 'in openapi.yaml, not registered with router.add in services/*/src/api.cpp');
});

test('every gateway route is in openapi.yaml', () => {
  const documented = openapiRoutes();
  const missing = [...gatewayRoutes()].filter(([r]) => !documented.has(r)).map(([r, file]) => `${r} (${file})`);
  assert.deepEqual(missing, [], 'registered in the C++ gateway, missing from schemas/openapi.yaml');
});
