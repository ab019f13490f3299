// Payments reads its provider key at init through the Parameters and Secrets
// extension, which Lambda may still be starting: until it is ready it answers
// 400 "not ready to serve traffic", or 5xx. The read waits for it, with a
// bound, and fails at once on an answer that will not change (401/403).
// The extension is a stand-in process (tests/support/fake-secrets-extension.mjs;
// the real one runs only inside Lambda). Run by ctest lambda.invoke.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dynamodbLocal } from '../support/dynamodb-local-for-test.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = process.env.ORDERLY_BIN;
assert.ok(BIN, 'ORDERLY_BIN must name build/bin/orderly');
const work = mkdtempSync(join(tmpdir(), 'orderly-secret-'));
after(() => rmSync(work, { recursive: true, force: true }));
// The bootstraps' only store is DynamoDB: DynamoDB Local, a table per invocation.
let ddb;
before(async () => {
  ddb = await dynamodbLocal();
});
after(() => ddb?.stop());

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:orderly/payments/provider-key-AbCdEf';
const TOKEN = 'session-token-1';

async function extension(args) {
  const child = spawn('node', [join(here, '../support/fake-secrets-extension.mjs'), '--secret-id', ARN, '--value', 'sk_test_1', ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, EXPECTED_TOKEN: TOKEN },
  });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`extension stand-in exited ${c}`)));
  });
  const count = () =>
    new Promise((resolve, reject) =>
      http.get(`http://127.0.0.1:${port}/count`, (res) => {
        let b = '';
        res.on('data', (d) => (b += d));
        res.on('end', () => resolve(Number(b)));
      }).on('error', reject));
  return { port, count, stop: () => child.kill('SIGTERM') };
}

function invokePayments(port, extraEnv = {}) {
  const file = join(work, `event-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify({ Records: [] }));
  const started = Date.now();
  const r = spawnSync(BIN, ['invoke', 'payments', '--handler', 'events', '--event', file, '--store', 'dynamodb-endpoint', ddb.url, '--table', `payments-${randomUUID().slice(0, 8)}`], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...process.env,
      ORDERLY_PAYMENT_SECRET_ARN: ARN,
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port),
      AWS_SESSION_TOKEN: TOKEN,
      ...extraEnv,
    },
  });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr, ms: Date.now() - started };
}

test('an extension that is not ready for 1.5 s, then fails twice with 502, is waited for', async () => {
  const ext = await extension(['--not-ready-ms', '1500', '--fail-first', '0']);
  try {
    const r = invokePayments(ext.port);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /payment provider key loaded/);
    assert.ok(r.ms >= 1_400, `loaded after ${r.ms} ms: it did not wait for the extension`);
    assert.ok((await ext.count()) > 2, 'it asked more than once');
  } finally {
    ext.stop();
  }
  const flaky = await extension(['--fail-first', '2']);
  try {
    const r = invokePayments(flaky.port);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await flaky.count(), 3, 'two 502s, then the key');
  } finally {
    flaky.stop();
  }
});

test('waiting is bounded: an extension that never gets ready is an init error after the bound', async () => {
  const ext = await extension(['--not-ready-ms', '600000']);
  try {
    const r = invokePayments(ext.port, { ORDERLY_SECRET_WAIT_MS: '1500' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /init error/);
    assert.match(JSON.parse(r.stdout).errorMessage, /secrets extension not ready after \d+ attempts in 1500 ms/);
    assert.ok(r.ms >= 1_200 && r.ms < 15_000, `gave up after ${r.ms} ms`);
  } finally {
    ext.stop();
  }
});

test('an answer that will not change (wrong token: 401) fails at once, without waiting', async () => {
  const ext = await extension([]);
  try {
    const r = invokePayments(ext.port, { AWS_SESSION_TOKEN: 'stolen' });
    assert.equal(r.status, 1);
    assert.match(JSON.parse(r.stdout).errorMessage, /secrets extension answered HTTP 401/);
    assert.equal(await ext.count(), 1, 'asked once');
  } finally {
    ext.stop();
  }
});
