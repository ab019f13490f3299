// Shared helpers for the end-to-end tests of the HTTP gateway (`orderly up`).
// Not a test file itself: node --test only runs *.test.mjs here.
//
// Everything here uses node built-ins only, except sqlite(), which runs
// /usr/bin/python3 to read a data directory's SQLite files. Servers listen on
// 127.0.0.1 with a port the OS picks (--port 0) and a fresh temporary data
// directory.
import { spawn, execFile } from 'node:child_process';
import { createHmac, createPrivateKey, generateKeyPairSync, randomUUID, sign as cryptoSign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function binPath() {
  const b = process.env.ORDERLY_BIN || 'build/bin/orderly';
  return isAbsolute(b) ? b : resolve(REPO_ROOT, b);
}
export const BIN = binPath();

// Fast saga timings, used unless a test passes its own value for the flag.
export const FAST_DEFAULTS = { '--saga-timeout': '2', '--carrier-delay': '0.2' };

export const ISSUER = 'orderly-local';
export const AUDIENCE = 'orderly-api';
export const TERMINAL = new Set(['DELIVERED', 'CANCELLED']);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- temp dirs

const tempDirs = [];
export function tempDir(prefix = 'orderly-e2e-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}
export function removeDir(d) {
  try {
    rmSync(d, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

// ---------------------------------------------------------------- servers

const live = new Set();
process.on('exit', () => {
  // Last resort: nothing we started may outlive the test process.
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  if (!process.env.ORDERLY_E2E_KEEP) for (const d of tempDirs) removeDir(d);
});

function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null)
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((res) => {
    const t = ms == null ? null : setTimeout(() => res(null), ms);
    proc.once('exit', (code, signal) => {
      if (t) clearTimeout(t);
      res({ code, signal });
    });
  });
}

// Spawns `orderly up --host 127.0.0.1 --port 0 --data-dir <dataDir> [defaults] [args]`
// and waits (max timeoutMs) for `listening on http://127.0.0.1:PORT` on stdout.
// Returns {url, port, proc, dataDir, output(), stop(), kill9(), exited}.
export async function startServer({ dataDir, args = [], timeoutMs = 20_000, fast = true, keepAllOutput = false } = {}) {
  dataDir ??= tempDir();
  const extra = [];
  if (fast) for (const [flag, v] of Object.entries(FAST_DEFAULTS)) if (!args.includes(flag)) extra.push(flag, v);
  const argv = ['up', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extra, ...args];
  const proc = spawn(BIN, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  const exited = new Promise((res) =>
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      res({ code, signal });
    }),
  );
  proc.stderr.setEncoding('utf8');
  proc.stdout.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    err += d;
    if (!keepAllOutput && err.length > 200_000) err = err.slice(-100_000);
  });
  const port = await new Promise((res, rej) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      rej(new Error(`orderly up did not print "listening on" within ${timeoutMs} ms\n` +
        `argv: ${BIN} ${argv.join(' ')}\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`));
    }, timeoutMs);
    proc.stdout.on('data', (d) => {
      out += d;
      if (!keepAllOutput && out.length > 200_000) out = out.slice(-100_000);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(Number(m[1]));
      }
    });
    proc.once('error', (e) => {
      clearTimeout(timer);
      rej(new Error(`cannot start ${BIN}: ${e.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      rej(new Error(`orderly up exited early (code ${code}, signal ${signal})\n` +
        `argv: ${BIN} ${argv.join(' ')}\nstdout:\n${out}\nstderr:\n${err.slice(-4000)}`));
    });
  });
  const server = {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    pid: proc.pid,
    dataDir,
    exited,
    output: () => ({ stdout: out, stderr: err }),
    // SIGTERM, then SIGKILL after graceMs. Resolves {code, signal, killed}.
    async stop(graceMs = 10_000) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        return { code: proc.exitCode, signal: proc.signalCode, killed: false };
      proc.kill('SIGTERM');
      const r = await waitExit(proc, graceMs);
      if (r) return { ...r, killed: false };
      proc.kill('SIGKILL');
      const r2 = await waitExit(proc, null);
      return { ...r2, killed: true };
    },
    async kill9() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await waitExit(proc, null);
    },
  };
  return server;
}

// ---------------------------------------------------------------- CLI tokens

function run(cmd, args, { timeoutMs = 20_000 } = {}) {
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd: REPO_ROOT, timeout: timeoutMs }, (e, stdout, stderr) => {
      if (e) {
        e.message += `\nstdout:\n${stdout}\nstderr:\n${stderr}`;
        rej(e);
      } else res({ stdout, stderr });
    });
  });
}

// `orderly token --data-dir D --customer ID [--admin] [--scope S]... [--ttl SECONDS]`;
// returns the last non-empty line of stdout.
export async function token({ dataDir, customer, admin = false, scopes, ttl } = {}) {
  const args = ['token', '--data-dir', dataDir, '--customer', customer];
  if (admin) args.push('--admin');
  for (const s of scopes ?? []) args.push('--scope', s);
  if (ttl != null) args.push('--ttl', String(ttl));
  const { stdout } = await run(BIN, args);
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  assert.ok(lines.length > 0, `orderly ${args.join(' ')} printed nothing`);
  return lines[lines.length - 1];
}

// ---------------------------------------------------------------- SQLite files

// The data directory's SQLite files are read (and, to plant a poison message,
// written) with Debian's python3 and its sqlite3 module: node 20 has no SQLite
// built in. By full path, because a pyenv shim may shadow `python3` on PATH.
// Write only while no server runs on that directory.
export const PYTHON = process.env.ORDERLY_E2E_PYTHON || '/usr/bin/python3';

const SQLITE_SCRIPT = `
import json, sqlite3, sys
spec = json.load(sys.stdin)
db = sqlite3.connect(spec["file"], timeout=30)
db.row_factory = sqlite3.Row
out = []
for sql, params in spec["statements"]:
    out.append([dict(r) for r in db.execute(sql, params).fetchall()])
db.commit()
db.close()
json.dump(out, sys.stdout)
`;

// Runs each [sql, params] on `file` in one transaction; resolves to one array
// of row objects per statement. The file must exist (no store is created here).
export function sqlite(file, statements) {
  if (!existsSync(file)) return Promise.reject(new Error(`sqlite: no such file ${file}`));
  return new Promise((res, rej) => {
    const p = spawn(PYTHON, ['-c', SQLITE_SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    p.once('error', (e) => rej(new Error(`sqlite: cannot run ${PYTHON}: ${e.message}`)));
    p.once('close', (code) => {
      if (code !== 0) return rej(new Error(`sqlite ${file}: ${PYTHON} exited ${code}\n${err}`));
      try {
        res(JSON.parse(out));
      } catch (e) {
        rej(new Error(`sqlite ${file}: unreadable output: ${e.message}\n${out.slice(0, 500)}`));
      }
    });
    p.stdin.end(JSON.stringify({ file, statements: statements.map(([sql, params = []]) => [sql, params]) }));
  });
}

// ---------------------------------------------------------------- HTTP

function lowerHeaders(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// One HTTP request on a fresh connection (no keep-alive).
// opts: {method, path, token, body (object → JSON), rawBody (string|Buffer), headers, timeoutMs}
// Returns {status, headers (lower-case keys), text, json (null: empty body,
// undefined: not JSON)}. Rejects on connection errors or a truncated response.
export function req(url, { method = 'GET', path = '/', token: tok, body, rawBody, headers = {}, timeoutMs = 15_000 } = {}) {
  const u = new URL(path, url);
  const h = { ...headers };
  let payload;
  if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    if (!Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['Content-Type'] = 'application/json';
  } else if (rawBody !== undefined) {
    payload = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody);
  }
  if (payload !== undefined) h['Content-Length'] = String(payload.length);
  if (tok) h.Authorization = `Bearer ${tok}`;
  return new Promise((res, rej) => {
    const r = http.request(
      { host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: h, agent: false },
      (resp) => {
        const chunks = [];
        resp.on('data', (c) => chunks.push(c));
        resp.on('aborted', () => rej(Object.assign(new Error('response aborted (truncated)'), { code: 'TRUNCATED' })));
        resp.on('error', (e) => rej(Object.assign(e, { truncated: true })));
        resp.on('end', () => {
          if (!resp.complete) return rej(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' }));
          const text = Buffer.concat(chunks).toString('utf8');
          res({ status: resp.statusCode, headers: lowerHeaders(resp.headers), text, json: parseJson(text) });
        });
      },
    );
    r.setTimeout(timeoutMs, () => r.destroy(Object.assign(new Error(`timeout after ${timeoutMs} ms: ${method} ${path}`), { code: 'TIMEOUT' })));
    r.on('error', rej);
    if (payload !== undefined) r.end(payload);
    else r.end();
  });
}

// Raw HTTP over a TCP socket, for requests node:http refuses to build
// (invalid bytes, duplicate headers, missing Content-Type, huge bodies).
// `request` is a string or Buffer, or an array of them written in order, where
// an element {pauseMs} waits before the rest (so an early response, e.g. a 413
// after the headers, is read before the server resets the connection); writing
// stops as soon as response bytes arrive. Never rejects: returns {status?, headers (name → [values]), body (Buffer),
// complete, bytes, error?, errorCode?}.
export function rawRequest(url, request, { timeoutMs = 15_000 } = {}) {
  const u = new URL(url);
  const parts = (Array.isArray(request) ? request : [request]).map((p) =>
    Buffer.isBuffer(p) || typeof p !== 'object' ? (Buffer.isBuffer(p) ? p : Buffer.from(p, 'latin1')) : p);
  return new Promise((res) => {
    const chunks = [];
    let bytes = 0;
    let done = false;
    let error;
    const sock = net.connect({ host: u.hostname, port: Number(u.port) });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const buf = Buffer.concat(chunks);
      res({ ...parseRawResponse(buf), bytes, error: error?.message, errorCode: error?.code });
    };
    const timer = setTimeout(() => {
      error = Object.assign(new Error(`timeout after ${timeoutMs} ms`), { code: 'TIMEOUT' });
      finish();
    }, timeoutMs);
    sock.on('data', (c) => {
      chunks.push(c);
      bytes += c.length;
      // Stop as soon as one full response is in (the server may keep the connection open).
      const p = parseRawResponse(Buffer.concat(chunks));
      if (p.complete) finish();
    });
    sock.on('error', (e) => {
      error ??= e;
      // A reset after the response arrived is fine; parse what we have.
      finish();
    });
    sock.on('end', finish);
    sock.on('close', finish);
    sock.on('connect', async () => {
      for (const p of parts) {
        if (done || bytes > 0) return;
        if (!Buffer.isBuffer(p)) {
          await new Promise((r) => setTimeout(r, p.pauseMs ?? 0));
          continue;
        }
        // Write in 64 KiB slices so an early response can be read meanwhile.
        for (let i = 0; i < p.length && !done && bytes === 0; i += 65536) {
          const ok = sock.write(p.subarray(i, i + 65536));
          if (!ok) await new Promise((r) => sock.once('drain', r).once('close', r));
        }
      }
    });
  });
}

export function parseRawResponse(buf) {
  const sep = buf.indexOf('\r\n\r\n');
  if (sep < 0) return { complete: false, headers: {}, body: Buffer.alloc(0) };
  const head = buf.subarray(0, sep).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0]);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    (headers[k] ??= []).push(line.slice(i + 1).trim());
  }
  const status = m ? Number(m[1]) : undefined;
  let body = buf.subarray(sep + 4);
  let complete = false;
  const te = (headers['transfer-encoding'] ?? []).join(',').toLowerCase();
  if (te.includes('chunked')) {
    const out = [];
    let off = 0;
    for (;;) {
      const nl = body.indexOf('\r\n', off);
      if (nl < 0) break;
      const size = parseInt(body.subarray(off, nl).toString('latin1'), 16);
      if (Number.isNaN(size)) break;
      if (size === 0) {
        complete = body.indexOf('\r\n', nl + 2) >= 0;
        break;
      }
      if (body.length < nl + 2 + size + 2) break;
      out.push(body.subarray(nl + 2, nl + 2 + size));
      off = nl + 2 + size + 2;
    }
    body = Buffer.concat(out);
  } else if (headers['content-length']) {
    const len = Number(headers['content-length'][0]);
    complete = body.length >= len;
    body = body.subarray(0, len);
  } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    complete = true;
  }
  const text = body.toString('utf8');
  return { status, headers, body, text, json: parseJson(text), complete };
}

// A minimal request line + headers builder for rawRequest.
export function rawHttp({ method = 'POST', path = '/v1/orders', host = '127.0.0.1', headers = [], body } = {}) {
  const b = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  if (b !== undefined && !headers.some(([k]) => k.toLowerCase() === 'content-length' || k.toLowerCase() === 'transfer-encoding'))
    head += `Content-Length: ${b.length}\r\n`;
  head += '\r\n';
  return b === undefined ? [Buffer.from(head, 'latin1')] : [Buffer.from(head, 'latin1'), b];
}

// ---------------------------------------------------------------- polling

export async function waitFor(fn, timeoutMs = 10_000, { intervalMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    await sleep(intervalMs);
  }
}

export async function getOrder(url, tok, id) {
  const r = await req(url, { path: `/v1/orders/${encodeURIComponent(id)}`, token: tok });
  assert.equal(r.status, 200, `GET /v1/orders/${id}: ${r.status} ${r.text}`);
  return r.json;
}

// Polls GET /v1/orders/{id} until `pred(order)`; returns the order.
export async function waitForOrder(url, tok, id, pred, timeoutMs = 15_000, what = 'order state') {
  let last;
  try {
    return await waitFor(async () => {
      last = await getOrder(url, tok, id);
      return pred(last) ? last : false;
    }, timeoutMs, { intervalMs: 100, what });
  } catch (e) {
    e.message += `\nlast order seen: ${JSON.stringify(last)}`;
    throw e;
  }
}

export const waitTerminal = (url, tok, id, timeoutMs = 15_000) =>
  waitForOrder(url, tok, id, (o) => TERMINAL.has(o.status), timeoutMs, `order ${id} to be DELIVERED or CANCELLED`);

// Waits until every id is DELIVERED or CANCELLED, polling the customer's
// order list (a few requests per round, well under the rate limit), then
// returns the full orders (GET each, in order).
export async function waitAllTerminal(url, tok, ids, timeoutMs = 30_000) {
  const pending = new Set(ids);
  let lastSeen = {};
  try {
    await waitFor(async () => {
      let cursor = null;
      const seen = {};
      do {
        const q = cursor === null ? '?limit=100' : `?limit=100&cursor=${encodeURIComponent(cursor)}`;
        const r = await req(url, { path: `/v1/orders${q}`, token: tok });
        if (r.status !== 200) return false;
        for (const o of r.json.items) seen[o.orderId] = o.status;
        cursor = r.json.nextCursor;
      } while (cursor);
      lastSeen = seen;
      for (const id of [...pending]) if (TERMINAL.has(seen[id])) pending.delete(id);
      return pending.size === 0;
    }, timeoutMs, { intervalMs: 250, what: `${ids.length} orders to be terminal` });
  } catch (e) {
    e.message += `\nnot terminal: ${[...pending].map((id) => `${id}=${lastSeen[id] ?? 'missing'}`).join(', ')}`;
    throw e;
  }
  const out = [];
  for (const id of ids) out.push(await getOrder(url, tok, id));
  return out;
}

// ---------------------------------------------------------------- bodies

export const ADDRESS = Object.freeze({ name: 'Ada', line1: '1 Loop Rd', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' });

export function orderBody({ items = [{ sku: 'KB-MECH-01', quantity: 1 }], paymentToken = 'tok_ok', address = ADDRESS } = {}) {
  return { items: structuredClone(items), paymentToken, shippingAddress: { ...address } };
}

export function placeOrder(url, tok, bodyOpts = {}, headers = {}) {
  return req(url, { method: 'POST', path: '/v1/orders', token: tok, body: orderBody(bodyOpts), headers });
}

// Asserts an RFC 9457 problem response with this status.
export function assertProblem(r, status, msg = '') {
  const ctx = `${msg} → ${r.status} ${r.headers?.['content-type']} ${r.text?.slice(0, 500)}`;
  assert.equal(r.status, status, `expected ${status}: ${ctx}`);
  assertProblemShape(r, ctx);
}

export function assertProblemShape(r, ctx = '') {
  const ct = String(r.headers['content-type'] ?? '');
  assert.match(ct, /^application\/problem\+json\b/i, `content-type ${ct}: ${ctx}`);
  const p = r.json;
  assert.ok(p && typeof p === 'object' && !Array.isArray(p), `problem body is not an object: ${ctx}`);
  for (const k of ['type', 'title', 'detail', 'instance', 'requestId'])
    assert.equal(typeof p[k], 'string', `problem.${k} should be a string: ${ctx}`);
  assert.equal(p.status, r.status, `problem.status should equal the HTTP status: ${ctx}`);
  const rid = r.headers['x-request-id'];
  assert.ok(rid, `X-Request-Id missing: ${ctx}`);
  assert.equal(p.requestId, rid, `problem.requestId should equal X-Request-Id: ${ctx}`);
}

// For 422s: some error must name `path` (or, when `parentOk`, point at the
// parent object with a message naming the field, as is common for missing
// or unknown properties).
export function assertErrorPath(r, path, { parentOk = false, prefix = false } = {}) {
  const errs = r.json?.errors;
  assert.ok(Array.isArray(errs) && errs.length > 0, `422 without errors[]: ${r.text}`);
  for (const e of errs) {
    assert.equal(typeof e.path, 'string', `errors[].path must be a string: ${r.text}`);
    assert.equal(typeof e.message, 'string', `errors[].message must be a string: ${r.text}`);
    assert.match(e.path, /^\$/, `errors[].path must be a JSONPath starting with $: ${r.text}`);
  }
  const hit = errs.some((e) => {
    if (e.path === path) return true;
    if (prefix && e.path.startsWith(path)) return true;
    if (parentOk) {
      const m = /^(.*)\.([A-Za-z0-9_]+)$/.exec(path);
      if (m && e.path === m[1] && e.message.includes(m[2])) return true;
    }
    return false;
  });
  assert.ok(hit, `no error with path ${path}${prefix ? '…' : ''}: ${JSON.stringify(errs)}`);
}

// ---------------------------------------------------------------- JWTs

export const b64url = (buf) => Buffer.from(buf).toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
export const b64urlJson = (obj) => b64url(Buffer.from(JSON.stringify(obj)));

export function decodeJwt(jwt) {
  const [h, p, s] = jwt.split('.');
  const dec = (x) => JSON.parse(Buffer.from(x.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  return { header: dec(h), payload: dec(p), signature: s };
}

export const now = () => Math.floor(Date.now() / 1000);

export function claims({ sub = 'cust-forged', scope = 'orders:read orders:write', iss = ISSUER, aud = AUDIENCE, iat, exp, nbf, extra = {} } = {}) {
  const t = now();
  const c = { iss, aud, sub, iat: iat ?? t, exp: exp ?? t + 600, ...extra };
  if (scope !== undefined) c.scope = scope;
  if (nbf !== undefined) c.nbf = nbf;
  for (const k of Object.keys(c)) if (c[k] === null) delete c[k];
  return c;
}

export function signRS256(payload, privateKey, header = {}) {
  const h = { alg: 'RS256', typ: 'JWT', ...header };
  const input = `${b64urlJson(h)}.${b64urlJson(payload)}`;
  const key = typeof privateKey === 'string' || Buffer.isBuffer(privateKey) ? createPrivateKey(privateKey) : privateKey;
  return `${input}.${b64url(cryptoSign('sha256', Buffer.from(input), key))}`;
}

export function signHS256(payload, secret, header = {}) {
  const h = { alg: 'HS256', typ: 'JWT', ...header };
  const input = `${b64urlJson(h)}.${b64urlJson(payload)}`;
  return `${input}.${b64url(createHmac('sha256', secret).update(input).digest())}`;
}

export function unsignedNone(payload, header = {}) {
  return `${b64urlJson({ alg: 'none', typ: 'JWT', ...header })}.${b64urlJson(payload)}.`;
}

let otherKey;
export function otherPrivateKey() {
  otherKey ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return otherKey;
}

export const serverPrivatePem = (dataDir) => readFileSync(join(dataDir, 'jwt-private.pem'), 'utf8');
export const serverPublicPem = (dataDir) => readFileSync(join(dataDir, 'jwt-public.pem'), 'utf8');

export const uniq = (prefix = 'cust') => `${prefix}-${randomUUID().slice(0, 8)}`;

// Runs fn over items with at most `limit` in flight.
export async function pool(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
