// Lambda: the real bootstraps as sandboxes (one process each) behind the Lambda Runtime
// API (2018-06-01), scaled like Lambda does: an invocation goes to an idle sandbox, or a new
// one is started, up to a cap; the function's Timeout kills the sandbox; a crashed or
// timed-out sandbox is replaced by the next invocation's cold start.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const API = '/2018-06-01/runtime';
const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
const INIT_TIMEOUT_MS = 10_000;

function traceId() {
  const t = Math.floor(Date.now() / 1000).toString(16).padStart(8, '0');
  return `Root=1-${t}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=1`;
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n <= limit) chunks.push(c);
    });
    req.on('end', () => resolve({ body: Buffer.concat(chunks).toString('utf8'), size: n }));
    req.on('error', reject);
  });
}

class Sandbox {
  constructor(fn, id) {
    this.fn = fn;
    this.id = id;
    this.state = 'init'; // init -> idle <-> busy; dead
    this.next = null; // the parked GET /next response
    this.current = null; // { inv, timer, started }
    this.startedAt = Date.now();
    this.initDoneAt = null;
    this.proc = null;
    this.server = null;
    this.invocations = 0;
  }
}

class FunctionPool {
  constructor(service, def) {
    this.service = service;
    this.def = def;
    this.sandboxes = new Set();
    this.queue = []; // invocations waiting for a sandbox
    this.seq = 0;
    this.cap = Math.max(1, Math.min(def.reservedConcurrency ?? Infinity, service.maxSandboxes));
    this.stats = { invocations: 0, errors: 0, timeouts: 0, coldStarts: 0, initErrors: 0, crashes: 0, throttledWaits: 0 };
    const logDir = service.logDir;
    this.log = createWriteStream(path.join(logDir, `${def.name}.log`), { flags: 'a' });
  }

  platform(type, record) {
    const line =
      this.def.logFormat === 'JSON'
        ? JSON.stringify({ time: new Date().toISOString(), type, record })
        : `${type} ${Object.entries(record).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ')}`;
    this.log.write(`${line}\n`);
  }

  invoke(payload, { timeoutMs } = {}) {
    return new Promise((resolve) => {
      const inv = { requestId: randomUUID(), payload, resolve, enqueuedAt: Date.now(), traceId: traceId(), settled: false, maxWaitMs: timeoutMs };
      this.stats.invocations++;
      this.queue.push(inv);
      this.dispatch();
    });
  }

  settle(inv, result) {
    if (inv.settled) return;
    inv.settled = true;
    if (!result.ok) this.stats.errors++;
    inv.resolve(result);
  }

  dispatch() {
    if (this.service.stopping) {
      for (const inv of this.queue.splice(0)) this.settle(inv, { ok: false, errorType: 'Service.Stopping', errorMessage: 'the twin is stopping' });
      return;
    }
    while (this.queue.length) {
      const idle = [...this.sandboxes].find((s) => s.state === 'idle' && s.next);
      if (!idle) break;
      this.assign(idle, this.queue.shift());
    }
    // Scale out: one new sandbox per waiting invocation not already covered by one starting.
    // A sandbox that has just answered calls /next within milliseconds: count it as free.
    const starting = [...this.sandboxes].filter((s) => s.state === 'init' || s.state === 'afterResponse').length;
    let want = this.queue.length - starting;
    while (want > 0 && this.sandboxes.size < this.cap) {
      this.spawn();
      want--;
    }
    if (this.queue.length && this.sandboxes.size >= this.cap) this.stats.throttledWaits++;
  }

  assign(sb, inv) {
    sb.state = 'busy';
    sb.invocations++;
    const now = Date.now();
    const deadline = now + this.def.timeout * 1000;
    const res = sb.next;
    sb.next = null;
    sb.current = {
      inv,
      started: now,
      timer: setTimeout(() => this.timedOut(sb), this.def.timeout * 1000),
    };
    this.platform('platform.start', { requestId: inv.requestId, version: '$LATEST' });
    const body = Buffer.from(inv.payload);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': body.length,
      'lambda-runtime-aws-request-id': inv.requestId,
      'lambda-runtime-deadline-ms': String(deadline),
      'lambda-runtime-invoked-function-arn': this.def.arn,
      'lambda-runtime-trace-id': inv.traceId,
    });
    res.end(body);
  }

  finish(sb, result) {
    const cur = sb.current;
    if (!cur) return;
    clearTimeout(cur.timer);
    sb.current = null;
    const ms = Date.now() - cur.started;
    this.platform('platform.report', {
      requestId: cur.inv.requestId,
      status: result.ok ? 'success' : result.errorType === 'Sandbox.Timedout' ? 'timeout' : 'error',
      metrics: { durationMs: ms, billedDurationMs: Math.ceil(ms), memorySizeMB: this.def.memorySize },
      ...(result.ok ? {} : { errorType: result.errorType }),
    });
    this.settle(cur.inv, { ...result, durationMs: ms, requestId: cur.inv.requestId });
  }

  timedOut(sb) {
    if (!sb.current) return;
    this.stats.timeouts++;
    const secs = this.def.timeout.toFixed(2);
    this.log.write(`${new Date().toISOString()} ${sb.current.inv.requestId} Task timed out after ${secs} seconds\n`);
    this.finish(sb, { ok: false, errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${secs} seconds` });
    this.kill(sb, 'timeout');
  }

  spawn() {
    const id = `${this.def.name}-${++this.seq}`;
    const sb = new Sandbox(this, id);
    this.sandboxes.add(sb);
    this.stats.coldStarts++;
    const server = http.createServer((req, res) => this.runtimeApi(sb, req, res));
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    server.keepAliveTimeout = 0;
    server.timeout = 0;
    sb.server = server;
    server.listen(0, '127.0.0.1', () => {
      if (sb.state === 'dead') {
        server.close();
        return;
      }
      const port = server.address().port;
      const env = this.service.environment(this.def, port);
      const bootstrap = path.join(this.service.codeDir(this.def), 'bootstrap');
      if (!existsSync(bootstrap)) {
        this.initFailed(sb, 'Runtime.InvalidEntrypoint', `no bootstrap in ${this.service.codeDir(this.def)}`);
        return;
      }
      let proc;
      try {
        proc = spawn(bootstrap, [], { cwd: path.dirname(bootstrap), env, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        this.initFailed(sb, 'Runtime.InvalidEntrypoint', err.message);
        return;
      }
      sb.proc = proc;
      this.service.children.add(proc);
      proc.stdout.pipe(this.log, { end: false });
      proc.stderr.pipe(this.log, { end: false });
      proc.on('error', (err) => this.initFailed(sb, 'Runtime.InvalidEntrypoint', err.message));
      proc.on('exit', (code, signal) => {
        this.service.children.delete(proc);
        this.exited(sb, code, signal);
      });
      sb.initTimer = setTimeout(() => {
        if (sb.state === 'init') this.initFailed(sb, 'Sandbox.Timedout', `INIT did not finish within ${INIT_TIMEOUT_MS / 1000} s`);
      }, this.service.initTimeoutMs ?? INIT_TIMEOUT_MS);
    });
  }

  initFailed(sb, type, message) {
    if (sb.state === 'dead') return;
    this.stats.initErrors++;
    this.log.write(`${new Date().toISOString()} INIT_REPORT ${sb.id} ${type}: ${message}\n`);
    this.kill(sb, 'init error');
    // The invocation that was waiting for this cold start fails with the init error.
    const inv = this.queue.shift();
    if (inv) this.settle(inv, { ok: false, errorType: type, errorMessage: message });
    this.dispatch();
  }

  exited(sb, code, signal) {
    if (sb.state === 'dead') return;
    const why = this.service.stopping ? 'shutdown' : signal ? `signal ${signal}` : `exit status ${code}`;
    if (sb.state === 'init') {
      this.initFailed(sb, sb.initError?.type ?? 'Runtime.ExitError', sb.initError?.message ?? `RequestId: - Error: Runtime exited with error: ${why}`);
      return;
    }
    if (sb.current) {
      this.stats.crashes++;
      this.finish(sb, { ok: false, errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${why}` });
    }
    this.kill(sb, why);
    this.dispatch();
  }

  kill(sb, why) {
    if (sb.state === 'dead') return;
    sb.state = 'dead';
    clearTimeout(sb.initTimer);
    if (sb.current) clearTimeout(sb.current.timer);
    this.sandboxes.delete(sb);
    if (sb.next) {
      sb.next.destroy();
      sb.next = null;
    }
    if (sb.proc && sb.proc.exitCode === null && sb.proc.signalCode === null) sb.proc.kill('SIGKILL');
    sb.server?.closeAllConnections?.();
    sb.server?.close();
    if (why && why !== 'shutdown') this.log.write(`${new Date().toISOString()} sandbox ${sb.id} ended (${why})\n`);
  }

  async runtimeApi(sb, req, res) {
    const url = req.url.split('?')[0];
    if (req.method === 'GET' && url === `${API}/invocation/next`) {
      if (sb.state === 'dead') {
        res.destroy();
        return;
      }
      if (sb.state === 'init') {
        clearTimeout(sb.initTimer);
        sb.initDoneAt = Date.now();
        this.platform('platform.initReport', { initializationType: 'on-demand', phase: 'init', status: 'success', metrics: { durationMs: sb.initDoneAt - sb.startedAt } });
      }
      if (sb.current) {
        // /next before answering the previous invocation: Lambda treats it as an error.
        this.finish(sb, { ok: false, errorType: 'Runtime.InvalidResponse', errorMessage: 'the runtime asked for the next event without answering this one' });
      }
      sb.state = 'idle';
      sb.next = res;
      req.on('close', () => {
        if (sb.next === res) sb.next = null;
      });
      this.dispatch();
      return;
    }
    const { body, size } = await readBody(req, MAX_RESPONSE_BYTES + 1);
    const reply = (status, obj) => {
      const text = JSON.stringify(obj);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'POST' && url === `${API}/init/error`) {
      let e = {};
      try {
        e = JSON.parse(body);
      } catch {
        /* keep the header */
      }
      sb.initError = { type: req.headers['lambda-runtime-function-error-type'] ?? e.errorType ?? 'Runtime.Unknown', message: e.errorMessage ?? body };
      reply(202, { status: 'OK' });
      this.initFailed(sb, sb.initError.type, sb.initError.message);
      return;
    }
    const m = new RegExp(`^${API}/invocation/([^/]+)/(response|error)$`).exec(url);
    if (req.method === 'POST' && m) {
      const [, requestId, what] = m;
      if (!sb.current || sb.current.inv.requestId !== requestId) {
        reply(400, { errorMessage: `Invalid request ID: ${requestId}`, errorType: 'InvalidRequestID' });
        return;
      }
      if (what === 'response') {
        if (size > MAX_RESPONSE_BYTES) {
          reply(413, { errorMessage: `Exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`, errorType: 'RequestEntityTooLarge' });
          this.finish(sb, { ok: false, errorType: 'Function.ResponseSizeTooLarge', errorMessage: `Response payload size (${size} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).` });
          return;
        }
        reply(202, { status: 'OK' });
        this.finish(sb, { ok: true, payload: body });
      } else {
        let e = {};
        try {
          e = JSON.parse(body);
        } catch {
          /* an unparsable error body */
        }
        reply(202, { status: 'OK' });
        this.finish(sb, { ok: false, functionError: 'Unhandled', errorType: req.headers['lambda-runtime-function-error-type'] ?? e.errorType ?? 'Unhandled', errorMessage: e.errorMessage ?? body, payload: body });
      }
      sb.state = 'afterResponse';
      return;
    }
    reply(404, { errorMessage: `unknown Runtime API path ${req.method} ${url}`, errorType: 'NotFound' });
  }

  counts() {
    const c = { sandboxes: this.sandboxes.size, init: 0, idle: 0, busy: 0, waiting: this.queue.length };
    for (const s of this.sandboxes) {
      if (s.state === 'init') c.init++;
      else if (s.state === 'busy') c.busy++;
      else c.idle++;
    }
    return c;
  }

  async stop() {
    for (const inv of this.queue.splice(0)) this.settle(inv, { ok: false, errorType: 'Service.Stopping', errorMessage: 'the twin is stopping' });
    const procs = [...this.sandboxes].map((s) => s.proc).filter(Boolean);
    // Lambda's shutdown: SIGTERM, then SIGKILL after a grace period.
    for (const sb of this.sandboxes) {
      if (sb.next) {
        sb.next.destroy();
        sb.next = null;
      }
      if (sb.proc && sb.proc.exitCode === null) sb.proc.kill('SIGTERM');
    }
    await Promise.all(
      procs.map(
        (p) =>
          new Promise((resolve) => {
            if (p.exitCode !== null || p.signalCode !== null) return resolve();
            const t = setTimeout(() => {
              p.kill('SIGKILL');
            }, 2000);
            p.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    for (const sb of [...this.sandboxes]) this.kill(sb, 'shutdown');
    await new Promise((r) => this.log.end(r));
  }
}

export class LambdaService {
  /**
   * environment(fnDef, runtimeApiPort) -> env of a sandbox; codeDir(fnDef) -> its /var/task.
   */
  constructor({ model, logDir, maxSandboxes = 4, environment, codeDir, initTimeoutMs }) {
    this.model = model;
    this.logDir = logDir;
    this.maxSandboxes = maxSandboxes;
    this.environment = environment;
    this.codeDir = codeDir;
    this.initTimeoutMs = initTimeoutMs;
    this.children = new Set();
    this.stopping = false;
    this.pools = new Map(model.functions.map((f) => [f.name, new FunctionPool(this, f)]));
  }

  /** Invoke (RequestResponse): { ok, payload } or { ok:false, errorType, errorMessage }. */
  invoke(name, payload, opts) {
    const pool = this.pools.get(name);
    if (!pool) return Promise.resolve({ ok: false, errorType: 'ResourceNotFoundException', errorMessage: `Function not found: ${name}` });
    return pool.invoke(payload, opts);
  }

  /** Starts one sandbox per function (like provisioned concurrency of 1). */
  prewarm() {
    for (const p of this.pools.values()) if (p.sandboxes.size === 0) p.spawn();
  }

  stats() {
    return Object.fromEntries([...this.pools].map(([n, p]) => [n, { ...p.stats, ...p.counts(), cap: p.cap, timeout: p.def.timeout }]));
  }

  async stop() {
    this.stopping = true;
    await Promise.all([...this.pools.values()].map((p) => p.stop()));
  }

  /** Last resort (process exit): SIGKILL every sandbox still running. */
  killAll() {
    for (const p of this.children) {
      try {
        p.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
