// Starts DynamoDB Local (AWS's own DynamoDB engine, from the npm package
// amplify-dynamodb-simulator, pinned in package-lock.json; it needs a Java 17
// runtime) for tests and for the AWS-local twin.
//
//   node tests/support/dynamodb-local.mjs [--port 0] [--key key.pem --cert cert.pem]
//
// With --key and --cert, clients speak TLS to this process, which terminates
// it and forwards plain HTTP (DynamoDB Local itself has no TLS).
// Prints "listening <port>" on stdout once DynamoDB answers on
// 127.0.0.1:<port>; stops the JVM on SIGTERM, SIGINT or when stdin closes (so
// a crashed parent leaves no server behind).
//
//   node tests/support/dynamodb-local.mjs --state FILE [--key K --cert C]
//   node tests/support/dynamodb-local.mjs --stop FILE
//
// A server shared by many test processes (a ctest fixture): the first form
// starts one in the background and returns once FILE holds
// "<port> <pid> [<tls port>]"; the second stops it and removes FILE.
//
// DynamoDB Local has no bind-address option: it listens on every interface.
// So, where this runs as root (tests do), the JVM runs in a network namespace
// of its own (unshare -n) that has only a loopback, and this process forwards
// 127.0.0.1:<port> to it through a Unix socket. Elsewhere the JVM listens on
// the port itself, and this says so on stderr.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const emulator = path.join(root, 'node_modules', 'amplify-dynamodb-simulator', 'emulator');
const jar = path.join(emulator, 'DynamoDBLocal.jar');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

// Inside the namespace: relay a Unix socket to the JVM's loopback port.
if (opt('relay-from')) {
  const target = Number(opt('relay-to'));
  net
    .createServer((c) => {
      const up = net.connect(target, '127.0.0.1');
      c.pipe(up).pipe(c);
      up.on('error', () => c.destroy());
      c.on('error', () => up.destroy());
    })
    .listen(opt('relay-from'));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
} else if (opt('stop')) {
  await stopShared(opt('stop'));
} else if (opt('state') && !args.includes('--detached')) {
  await startShared(opt('state'));
} else {
  await main();
}

async function startShared(file) {
  await stopShared(file);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args, '--detached'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  child.unref();
  const deadline = Date.now() + 90_000;
  while (!existsSync(file)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      process.stderr.write('dynamodb-local: the shared server did not start\n');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(readFileSync(file, 'utf8'));
}

async function stopShared(file) {
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').split(' ')[1]);
  rmSync(file, { force: true });
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; ++i) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function answers(connect) {
  // DynamoDB answers any POST; a ListTables with fake credentials is enough.
  return new Promise((resolve) => {
    const sock = connect();
    const body = '{}';
    sock.on('connect', () =>
      sock.write(
        'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n' +
          'X-Amz-Target: DynamoDB_20120810.ListTables\r\n' +
          'Authorization: AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n' +
          `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      ),
    );
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('end', () => resolve(got.startsWith('HTTP/1.1 200')));
    sock.on('error', () => resolve(false));
  });
}

async function main() {
  if (!existsSync(jar)) {
    process.stderr.write(`DynamoDB Local is not installed (${jar}): run npm ci\n`);
    process.exit(2);
  }
  const wanted = Number(opt('port') ?? 0);
  const isolated =
    process.getuid?.() === 0 && spawnSync('unshare', ['-n', 'true']).status === 0 && spawnSync('ip', ['-V']).status === 0;
  const inner = isolated ? 8000 : wanted || (await freePort());
  const java = [
    `-Djava.library.path=${path.join(emulator, 'DynamoDBLocal_lib')}`,
    '-Xss1m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-jar',
    jar,
    '-inMemory',
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(inner),
  ];
  let tmp;
  let sock;
  let child;
  // The JVM writes dynamodb-local-metadata.json where it runs: in a directory of its own.
  tmp = mkdtempSync(path.join(os.tmpdir(), 'ddb-local-'));
  if (isolated) {
    sock = path.join(tmp, 'ddb.sock');
    const script =
      'ip link set lo up || exit 1\n' +
      `java ${java.map((a) => `'${a}'`).join(' ')} >&2 &\n` +
      'jvm=$!\n' +
      // The relay ends when this process's pipe closes (even if it is killed); then the JVM goes.
      `node '${fileURLToPath(import.meta.url)}' --relay-from '${sock}' --relay-to ${inner}\n` +
      'kill $jvm; wait $jvm\n';
    child = spawn('unshare', ['-n', 'sh', '-c', script], { cwd: tmp, stdio: ['pipe', 'ignore', 'inherit'] });
  } else {
    process.stderr.write('dynamodb-local: not root, so the JVM listens on every interface\n');
    child = spawn('java', java, { cwd: tmp, stdio: ['pipe', 'ignore', 'inherit'] });
  }
  // Isolated: closing the shell's stdin ends the relay, and the shell then stops the JVM.
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    if (isolated) child.stdin.end();
    else child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.on('exit', () => {
      clearTimeout(force);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      process.exit(0);
    });
  };
  child.on('exit', (code) => {
    if (!stopping) {
      process.stderr.write(`dynamodb-local: the server exited (${code})\n`);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
      process.exit(1);
    }
  });
  const connect = isolated ? () => net.connect(sock) : () => net.connect(inner, '127.0.0.1');
  const deadline = Date.now() + 60_000;
  while (!(await answers(connect))) {
    if (Date.now() > deadline) {
      process.stderr.write('dynamodb-local: no answer within 60 s\n');
      stop();
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const relay = (c) => {
    const up = connect();
    c.pipe(up).pipe(c);
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
  };
  const listen = (server, p) =>
    new Promise((resolve) => server.listen(p, '127.0.0.1', () => resolve(server.address().port)));
  const plainPort = isolated ? await listen(net.createServer(relay), wanted) : inner;
  const secure = Boolean(opt('key') && opt('cert'));
  const tlsPort = secure
    ? await listen(
        tls.createServer({ key: readFileSync(opt('key')), cert: readFileSync(opt('cert')) }, relay),
        0,
      )
    : 0;
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (opt('state')) {
    // Written whole, then renamed: a reader never sees half a line.
    const file = opt('state');
    writeFileSync(`${file}.tmp`, `${plainPort} ${process.pid}${secure ? ` ${tlsPort}` : ''}\n`);
    renameSync(`${file}.tmp`, file);
  } else {
    process.stdout.write(`listening ${plainPort}\n${secure ? `listening-tls ${tlsPort}\n` : ''}`);
    process.stdin.on('end', stop);
    process.stdin.resume();
  }
}
