// One `orderly up` that the race client can kill -9 and restart on the same
// data directory. Each incarnation listens on 127.0.0.1 with a port the OS
// picks, so the URL changes at every restart: callers ask for `url` again and
// wait on `ready()` after a connection error.
//
// Unlike tests/e2e/lib.mjs's startServer (which reads the "listening on" log
// line on stdout), this watches stderr for the banner and writes each
// incarnation's stdout and stderr to files beside the data directory, so the
// server can run at --log-level warn (cheaper on 2 cores) and a failed run
// keeps its logs.
import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const live = new Set();
process.on('exit', () => {
  // Last resort: nothing this module started may outlive the test process.
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function exitedAlready(proc) {
  return proc.exitCode !== null || proc.signalCode !== null;
}

function waitExit(proc, ms) {
  if (exitedAlready(proc)) return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
  return new Promise((res) => {
    const t = ms == null ? null : setTimeout(() => res(null), ms);
    proc.once('exit', (code, signal) => {
      if (t) clearTimeout(t);
      res({ code, signal });
    });
  });
}

export class RaceServer {
  // bin: the orderly binary; runDir: where logs go; args: extra `up` flags.
  constructor({ bin, dataDir, runDir, args = [], log = () => {} }) {
    Object.assign(this, { bin, dataDir, runDir, args, log });
    this.proc = null;
    this.url = null;
    this.generation = 0; // incarnations started so far
    this.kills = []; // {generation, at}
    this.unexpectedExits = []; // {generation, code, signal, stderrTail}
    this._expectExit = false;
    this._ready = null;
    this._setReady = null;
    this._newReadyPromise();
  }

  _newReadyPromise() {
    this._ready = new Promise((res) => {
      this._setReady = res;
    });
  }

  // Resolves when an incarnation is listening (at once if one is).
  ready() {
    return this._ready;
  }

  get up() {
    return this.proc !== null && !exitedAlready(this.proc) && this.url !== null;
  }

  async start(timeoutMs = 30_000) {
    const gen = ++this.generation;
    const argv = ['up', '--host', '127.0.0.1', '--port', '0', '--data-dir', this.dataDir, ...this.args];
    const outPath = join(this.runDir, `server-${gen}.stdout.log`);
    const errPath = join(this.runDir, `server-${gen}.stderr.log`);
    const outFd = openSync(outPath, 'a');
    const errFd = openSync(errPath, 'a');
    const proc = spawn(this.bin, argv, { stdio: ['ignore', outFd, 'pipe'] });
    closeSync(outFd);
    live.add(proc);
    this.proc = proc;
    this._expectExit = false;
    let err = '';
    let listening = false;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      try {
        writeSync(errFd, d);
      } catch {
        /* the file is best effort */
      }
      err += d;
      if (err.length > 20_000) err = err.slice(-10_000);
    });
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      try {
        closeSync(errFd);
      } catch {
        /* closed */
      }
      if (this.proc === proc) this.url = null;
      if (!this._expectExit && this.proc === proc) {
        this.unexpectedExits.push({ generation: gen, code, signal, stderrTail: err.slice(-2000) });
        this.log(`server generation ${gen} exited unexpectedly: code ${code}, signal ${signal}`);
        // Clients wait for the restart the owner makes (onUnexpectedExit).
        if (listening) {
          this._newReadyPromise();
          this.onUnexpectedExit?.();
        }
      }
    });
    const port = await new Promise((res, rej) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        rej(new Error(`orderly up did not print its banner within ${timeoutMs} ms\nargv: ${this.bin} ${argv.join(' ')}\nstderr:\n${err.slice(-4000)}`));
      }, timeoutMs);
      const onData = () => {
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          proc.stderr.off('data', onData);
          res(Number(m[1]));
        }
      };
      proc.stderr.on('data', onData);
      proc.once('error', (e) => {
        clearTimeout(timer);
        rej(new Error(`cannot start ${this.bin}: ${e.message}`));
      });
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        rej(new Error(`orderly up exited early (code ${code}, signal ${signal})\nargv: ${this.bin} ${argv.join(' ')}\nstderr:\n${err.slice(-4000)}`));
      });
    });
    listening = true;
    this.url = `http://127.0.0.1:${port}`;
    this._setReady();
    return this.url;
  }

  // SIGKILL now; the next ready() waits for restart().
  async kill9() {
    if (!this.proc || exitedAlready(this.proc)) return;
    this._newReadyPromise();
    this._expectExit = true;
    this.url = null;
    this.kills.push({ generation: this.generation, at: Date.now() });
    this.proc.kill('SIGKILL');
    await waitExit(this.proc, null);
  }

  async restart() {
    if (this.proc && !exitedAlready(this.proc)) throw new Error('restart() while the server runs');
    if (this.up) return this.url;
    return this.start();
  }

  // SIGTERM (graceful: in-flight requests and handlers finish, outboxes are
  // flushed), then SIGKILL after graceMs. Resolves {code, signal, killed}.
  async stop(graceMs = 20_000) {
    const proc = this.proc;
    if (!proc) return { code: null, signal: null, killed: false };
    this._expectExit = true;
    this.url = null;
    if (exitedAlready(proc)) return { code: proc.exitCode, signal: proc.signalCode, killed: false };
    proc.kill('SIGTERM');
    const r = await waitExit(proc, graceMs);
    if (r) return { ...r, killed: false };
    proc.kill('SIGKILL');
    const r2 = await waitExit(proc, null);
    return { ...r2, killed: true };
  }
}
