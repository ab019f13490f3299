// Reading an `orderly up` data directory's SQLite files directly, through
// tests/race/stores.py and Debian's /usr/bin/python3 (its sqlite3 module).
// The full path matters: pyenv shims earlier on PATH may point at a Python
// without sqlite3. RACE_PYTHON overrides it.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(HERE, '..', '..');
export const PYTHON = process.env.RACE_PYTHON || '/usr/bin/python3';
const SCRIPT = join(HERE, 'stores.py');

function python(args, { input, timeoutMs = 120_000 } = {}) {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} not found (set RACE_PYTHON to a python3 with sqlite3)`);
  return new Promise((res, rej) => {
    const child = execFile(PYTHON, [SCRIPT, ...args], { timeout: timeoutMs, maxBuffer: 1 << 30 }, (e, stdout, stderr) => {
      if (e) {
        e.message += `\n${PYTHON} ${SCRIPT} ${args.join(' ')}\nstderr:\n${stderr}`;
        rej(e);
      } else res(stdout);
    });
    if (input !== undefined) child.stdin.end(input);
  });
}

// {stores: {orders, inventory, payments, shipping, 'provider-simulator'}: items,
//  outbox: {service: [...]}, bus: {dlq, messages, archived}}
export async function dumpStores(dataDir) {
  return JSON.parse(await python(['dump', dataDir]));
}

// The CREATE statements, read from the C++ sources so the fake stores of the
// checker's self-test have exactly the real schema.
export function schemas() {
  const grab = (rel) => {
    const text = readFileSync(join(REPO_ROOT, rel), 'utf8');
    const m = /kSchema = R"\(([\s\S]*?)\)";/.exec(text);
    if (!m) throw new Error(`no kSchema = R"(...)" in ${rel}`);
    return m[1];
  };
  return {
    itemSchema: grab('adapters/embedded/src/sqlite_item_store.cpp'),
    busSchema: grab('adapters/embedded/src/durable_bus.cpp'),
  };
}

// Writes a fake store set (see stores.py make) into dataDir.
export async function makeStores(dataDir, spec) {
  await python(['make', dataDir], { input: JSON.stringify({ ...schemas(), ...spec }) });
}
