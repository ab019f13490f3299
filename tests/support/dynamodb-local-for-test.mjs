// DynamoDB Local (AWS's own engine) for one node test file: the run's shared
// one when ctest's fixture started it (ORDERLY_DYNAMODB_LOCAL_DIR holds its
// state file), else one started for this file (tests/support/dynamodb-local.mjs)
// and stopped by stop().
//
//   const ddb = await dynamodbLocal();  // { port, url, stop }
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export async function dynamodbLocal() {
  const shared = process.env.ORDERLY_DYNAMODB_LOCAL_DIR;
  if (shared && existsSync(join(shared, 'state'))) {
    const [port] = readFileSync(join(shared, 'state'), 'utf8').trim().split(' ');
    return { port: Number(port), url: `http://127.0.0.1:${port}`, stop: () => {} };
  }
  const child = spawn('node', [join(here, 'dynamodb-local.mjs'), '--port', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      const m = /listening (\d+)/.exec(d.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`DynamoDB Local exited ${c}`)));
  });
  return { port, url: `http://127.0.0.1:${port}`, stop: () => child.stdin.end() };
}
