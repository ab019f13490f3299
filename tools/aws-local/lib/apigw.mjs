// API Gateway HTTP API ($default stage) in front of the Lambda functions: routes from the
// template (method + path with {params} and {proxy+}, ANY, $default), the JWT authorizer
// with route scopes, the payload format 2.0 event, and the response mapping, with API
// Gateway's own answers: 404/401/403/413/500/503 with {"message": ...}.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { basename, join } from 'node:path';
import { Unauthorized, verifyToken } from './jwt.mjs';

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function clfTime(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** A route path to a matcher: literal segments, {name} (one segment), {name+} (greedy, last). */
function compile(routePath) {
  const segs = routePath.split('/').slice(1);
  const names = [];
  let literal = 0;
  let greedy = false;
  const re = segs
    .map((s) => {
      const m = /^\{([^}+]+)(\+?)\}$/.exec(s);
      if (!m) {
        literal++;
        return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      }
      names.push(m[1]);
      if (m[2]) {
        greedy = true;
        return '(.+)';
      }
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^/${re}$`), names, literal, greedy, segments: segs.length };
}

function decode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml)))/i;

export class HttpApi {
  // console: {dir, headers} serves the web console's files at /console, as a static
  // site would beside the API (on AWS: an S3 bucket behind CloudFront, not in the stack).
  constructor({ model, lambda, auth, log = () => {}, accessLog = () => {}, console: site = null }) {
    this.site = site;
    this.api = model.api;
    this.model = model;
    this.lambda = lambda;
    this.auth = auth; // { keys (JWKS), issuer, audience (local) }
    this.log = log;
    this.accessLog = accessLog;
    this.routes = (this.api?.routes ?? [])
      .filter((r) => r.routeKey !== '$default')
      .map((r) => ({ ...r, compiled: compile(r.path) }))
      // API Gateway picks the most specific route: more literal segments first, greedy last.
      .sort((a, b) => Number(a.compiled.greedy) - Number(b.compiled.greedy) || b.compiled.literal - a.compiled.literal || b.compiled.segments - a.compiled.segments);
    this.defaultRoute = (this.api?.routes ?? []).find((r) => r.routeKey === '$default');
    this.stats = { requests: 0, byStatus: {} };
  }

  match(method, p) {
    // Among the routes whose path matches (most specific first): the method's own route,
    // else an ANY route, else $default.
    let any = null;
    for (const r of this.routes) {
      const m = r.compiled.regex.exec(p);
      if (!m || (r.method !== method && r.method !== 'ANY')) continue;
      const params = {};
      r.compiled.names.forEach((n, i) => (params[n] = decode(m[i + 1])));
      if (r.method === method) return { route: r, params };
      any ??= { route: r, params };
    }
    if (any) return any;
    if (this.defaultRoute) return { route: this.defaultRoute, params: undefined };
    return null;
  }

  listen(port, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address().port));
    });
  }

  close() {
    if (!this.server) return Promise.resolve();
    this.server.closeAllConnections?.();
    return new Promise((r) => this.server.close(() => r()));
  }

  send(res, ctx, status, headers, body) {
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body ?? '');
    const out = { date: new Date().toUTCString(), 'apigw-requestid': ctx.requestId, 'content-length': buf.length };
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = v;
    out['content-length'] = buf.length;
    res.writeHead(status, out);
    res.end(ctx.method === 'HEAD' ? undefined : buf);
    this.stats.requests++;
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
    this.accessLog({
      requestId: ctx.requestId,
      requestTime: clfTime(ctx.start),
      method: ctx.method,
      routeKey: ctx.routeKey ?? '-',
      path: ctx.path,
      status,
      protocol: ctx.protocol,
      responseLength: buf.length,
      latencyMs: Date.now() - ctx.start.getTime(),
      integrationLatencyMs: ctx.integrationMs ?? '-',
      integrationError: ctx.integrationError ?? '-',
      authorizerError: ctx.authorizerError ?? '-',
    });
  }

  gatewayError(res, ctx, status, message, extra = {}) {
    this.send(res, ctx, status, { 'content-type': 'application/json', ...extra }, JSON.stringify({ message }));
  }

  handle(req, res) {
    const start = new Date();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQueryString = q < 0 ? '' : url.slice(q + 1);
    const ctx = {
      start,
      requestId: randomBytes(10).toString('base64'),
      method: req.method,
      path: rawPath,
      sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      protocol: `HTTP/${req.httpVersion}`,
    };
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      req.resume();
      this.gatewayError(res, ctx, 413, 'Request Entity Too Large');
      return;
    }
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      if (tooLarge) {
        this.gatewayError(res, ctx, 413, 'Request Entity Too Large');
        return;
      }
      this.route(req, res, ctx, Buffer.concat(chunks), rawPath, rawQueryString).catch((err) => {
        this.log(`api: ${err.stack ?? err}`);
        if (!res.headersSent) this.gatewayError(res, ctx, 500, 'Internal Server Error');
      });
    });
  }

  authorize(route, headers, ctx) {
    if (route.authorizationType === 'NONE' || !route.authorizer) return { ok: true };
    if (route.authorizationType !== 'JWT') return { ok: false, status: 500, message: 'Internal Server Error' };
    const source = route.authorizer.identitySource[0] ?? '$request.header.Authorization';
    const header = source.replace(/^\$request\.header\./i, '').toLowerCase();
    const value = headers[header];
    if (!value) {
      ctx.authorizerError = 'no token';
      return { ok: false, status: 401, message: 'Unauthorized', extra: { 'www-authenticate': 'Bearer' } };
    }
    const token = String(value).replace(/^Bearer\s+/i, '').trim();
    let claims;
    try {
      claims = verifyToken(token, { keys: this.auth.keys, issuer: this.auth.issuer, audience: this.auth.audience });
    } catch (err) {
      if (!(err instanceof Unauthorized)) throw err;
      ctx.authorizerError = err.message;
      return { ok: false, status: 401, message: 'Unauthorized', extra: { 'www-authenticate': `Bearer scope="" error="invalid_token" error_description="${err.message}"` } };
    }
    const granted = String(claims.scope ?? claims.scp ?? '').split(' ').filter(Boolean);
    if (route.scopes.length && !route.scopes.some((s) => granted.includes(s))) {
      ctx.authorizerError = 'insufficient scopes';
      return { ok: false, status: 403, message: 'Forbidden', extra: { 'www-authenticate': `Bearer scope="${route.scopes.join(' ')}" error="insufficient_scope" error_description="expected scopes: [${route.scopes.join(' ')}]"` } };
    }
    // API Gateway hands the claims on as strings (arrays as "[a b]").
    const flat = {};
    for (const [k, v] of Object.entries(claims)) flat[k] = Array.isArray(v) ? `[${v.join(' ')}]` : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    return { ok: true, jwt: { claims: flat, scopes: granted.length ? granted : null } };
  }

  // GET /console and /console/{file}: the console's own files, with its headers (CSP).
  serveConsole(req, res, ctx, rawPath) {
    ctx.routeKey = 'console';
    const name = rawPath === '/console' || rawPath === '/console/' ? 'index.html' : basename(rawPath);
    const file = join(this.site.dir, name);
    if (!/^[\w.-]+$/.test(name) || !existsSync(file)) return this.gatewayError(res, ctx, 404, 'Not Found');
    const body = readFileSync(file);
    const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    const headers = { ...this.site.headers, 'content-type': types[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream', etag, 'cache-control': 'no-cache' };
    if (req.headers['if-none-match'] === etag) return this.send(res, ctx, 304, headers, '');
    return this.send(res, ctx, 200, headers, body);
  }

  async route(req, res, ctx, body, rawPath, rawQueryString) {
    if (this.site && (ctx.method === 'GET' || ctx.method === 'HEAD') && /^\/console(\/[^/]*)?$/.test(rawPath)) return this.serveConsole(req, res, ctx, rawPath);
    const matched = this.match(req.method, rawPath);
    if (!matched) {
      this.gatewayError(res, ctx, 404, 'Not Found');
      return;
    }
    const { route, params } = matched;
    ctx.routeKey = route.routeKey;
    // Headers: lower-cased, repeated ones joined with commas; cookies apart.
    const headers = {};
    let cookies;
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase();
      const v = req.rawHeaders[i + 1];
      if (k === 'cookie') {
        cookies = [...(cookies ?? []), ...v.split(/;\s*/).filter(Boolean)];
        continue;
      }
      headers[k] = k in headers ? `${headers[k]},${v}` : v;
    }
    const auth = this.authorize(route, headers, ctx);
    if (!auth.ok) {
      this.gatewayError(res, ctx, auth.status, auth.message, auth.extra);
      return;
    }
    const integration = route.integration;
    if (!integration?.function) {
      ctx.integrationError = 'no integration';
      this.gatewayError(res, ctx, 500, 'Internal Server Error');
      return;
    }
    const host = headers.host ?? `127.0.0.1`;
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${ctx.sourceIp}` : ctx.sourceIp;
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-port'] ??= String(req.socket.localPort);
    headers['x-amzn-trace-id'] ??= `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
    let query;
    if (rawQueryString) {
      query = {};
      for (const pair of rawQueryString.split('&')) {
        if (!pair) continue;
        const eq = pair.indexOf('=');
        const k = decode((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
        const v = eq < 0 ? '' : decode(pair.slice(eq + 1).replace(/\+/g, ' '));
        query[k] = k in query ? `${query[k]},${v}` : v;
      }
    }
    const contentType = headers['content-type'] ?? '';
    const binary = body.length > 0 && !TEXT_TYPES.test(contentType);
    const event = {
      version: '2.0',
      routeKey: route.routeKey,
      rawPath,
      rawQueryString,
      ...(cookies ? { cookies } : {}),
      headers,
      ...(query ? { queryStringParameters: query } : {}),
      requestContext: {
        accountId: this.model.account,
        apiId: this.api.id,
        ...(auth.jwt ? { authorizer: { jwt: auth.jwt } } : {}),
        domainName: host,
        domainPrefix: host.split('.')[0].split(':')[0],
        http: { method: req.method, path: decode(rawPath), protocol: ctx.protocol, sourceIp: ctx.sourceIp, userAgent: headers['user-agent'] ?? '' },
        requestId: ctx.requestId,
        routeKey: route.routeKey,
        stage: this.api.stage ?? '$default',
        time: clfTime(ctx.start),
        timeEpoch: ctx.start.getTime(),
      },
      ...(params && Object.keys(params).length ? { pathParameters: params } : {}),
      ...(body.length ? { body: binary ? body.toString('base64') : body.toString('utf8') } : {}),
      isBase64Encoded: binary,
    };
    const t0 = Date.now();
    const timeoutMs = integration.timeoutMillis;
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
    });
    const result = await Promise.race([this.lambda.invoke(integration.function, JSON.stringify(event)), timedOut]);
    clearTimeout(timer);
    ctx.integrationMs = Date.now() - t0;
    if (result.timedOut) {
      ctx.integrationError = `integration timed out after ${timeoutMs} ms`;
      this.gatewayError(res, ctx, 503, 'Service Unavailable');
      return;
    }
    if (!result.ok) {
      ctx.integrationError = `${result.errorType}: ${result.errorMessage}`;
      this.gatewayError(res, ctx, 500, 'Internal Server Error');
      return;
    }
    this.respond(res, ctx, integration, result.payload);
  }

  /** Maps a payload format 2.0 answer to HTTP, as API Gateway does. */
  respond(res, ctx, integration, payload) {
    let out;
    try {
      out = JSON.parse(payload);
    } catch {
      ctx.integrationError = 'the function answered something that is not JSON';
      this.gatewayError(res, ctx, 500, 'Internal Server Error');
      return;
    }
    // Format 2.0 infers a response when the function returns no statusCode.
    if (out === null || typeof out !== 'object' || Array.isArray(out) || out.statusCode === undefined) {
      this.send(res, ctx, 200, { 'content-type': 'application/json' }, typeof out === 'string' ? out : payload);
      return;
    }
    const status = Number(out.statusCode);
    if (!Number.isInteger(status) || status < 100 || status > 599) {
      ctx.integrationError = `invalid statusCode ${out.statusCode}`;
      this.gatewayError(res, ctx, 500, 'Internal Server Error');
      return;
    }
    const headers = {};
    for (const [k, v] of Object.entries(out.headers ?? {})) headers[k.toLowerCase()] = String(v);
    for (const [k, vs] of Object.entries(out.multiValueHeaders ?? {})) headers[k.toLowerCase()] = (Array.isArray(vs) ? vs : [vs]).map(String).join(',');
    if (Array.isArray(out.cookies) && out.cookies.length) headers['set-cookie'] = out.cookies.map(String);
    let body = out.body ?? '';
    if (typeof body !== 'string') body = JSON.stringify(body);
    const buf = out.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
    this.send(res, ctx, status, headers, buf);
  }
}
