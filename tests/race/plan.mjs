// The race client's parameters and its seeded plan: every random choice of a
// run (each order's lines, payment token and cancel delay, and when the server
// is killed) is drawn here, up front, from one seed. The interleaving with the
// server's threads is real and is not replayed; the plan is.
import { randomInt } from 'node:crypto';

// mulberry32: a small, fast 32-bit PRNG; the same seed gives the same stream.
export function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), // inclusive
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
  };
}

function envInt(name, dflt, { min = 0 } = {}) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new Error(`${name}=${v}: expected an integer >= ${min}`);
  return Number(v);
}

// RACE_SEED (default random), RACE_ORDERS (400), RACE_THREADS (4), RACE_KILLS (3).
export function raceParams(env = process.env) {
  const seedText = env.RACE_SEED;
  let seed;
  if (seedText === undefined || seedText === '') seed = randomInt(1, 2 ** 31);
  else if (/^\d+$/.test(seedText.trim()) && Number(seedText) < 2 ** 32) seed = Number(seedText);
  else throw new Error(`RACE_SEED=${seedText}: expected an integer from 0 to 2^32-1`);
  return {
    seed,
    orders: envInt('RACE_ORDERS', 400, { min: 1 }),
    threads: envInt('RACE_THREADS', 4, { min: 1 }),
    kills: envInt('RACE_KILLS', 3),
  };
}

// The line that reruns this exact plan.
export function replayCommand(p) {
  const bin = process.env.ORDERLY_BIN ? `ORDERLY_BIN=${process.env.ORDERLY_BIN} ` : '';
  return `${bin}RACE_SEED=${p.seed} RACE_ORDERS=${p.orders} RACE_THREADS=${p.threads} RACE_KILLS=${p.kills} ` +
    'node --test tests/race/race.test.mjs';
}

// Payment tokens of services/payments/src/simulated_provider.cpp, weighted:
// mostly approved, some declined, some failing transiently twice (the bus
// retries them), a few never answered (the customer's cancel, or the saga
// timeout, voids them).
export const TOKENS = [
  ['tok_ok', 0.8],
  ['tok_decline', 0.08],
  ['tok_flaky', 0.08],
  ['tok_timeout', 0.04],
];

// The scarce product (3 units seeded): ordering it mostly ends out_of_stock.
export const SCARCE_SKU = 'LTD-ED-01';

// skus: the catalogue's SKUs (GET /v1/products), in a stable order.
export function makePlan(params, skus) {
  const rng = mulberry32(params.seed);
  const common = skus.filter((s) => s !== SCARCE_SKU).sort();
  const orders = [];
  for (let i = 0; i < params.orders; i++) {
    const nLines = rng.int(1, 3);
    const chosen = new Set();
    while (chosen.size < nLines) chosen.add(rng.pick(common));
    const items = [...chosen].map((sku) => ({ sku, quantity: rng.int(1, 3) }));
    if (skus.includes(SCARCE_SKU) && rng.chance(0.03)) items.push({ sku: SCARCE_SKU, quantity: 1 });
    let u = rng.next();
    let paymentToken = TOKENS[0][0];
    for (const [t, w] of TOKENS) {
      if (u < w) {
        paymentToken = t;
        break;
      }
      u -= w;
    }
    orders.push({
      index: i,
      key: `race-${params.seed}-${i}`, // the Idempotency-Key, for every retry of this order
      items,
      paymentToken,
      cancelDelayMs: Math.round(rng.next() * 400), // 0-0.4 s after the 202
    });
  }
  // Kills: after the k-th order is accepted (distinct k in the middle 80% of
  // the run), either 0-400 ms later ('timed': mid-saga, maybe mid-request) or
  // 0-10 ms after the next POST /v1/orders is sent ('post': around its commit,
  // so the answer may be lost after the order was written, and the retry with
  // the same Idempotency-Key must find it). The server stays down 0-500 ms.
  const kills = [];
  const lo = Math.floor(params.orders * 0.1);
  const hi = Math.max(lo, Math.floor(params.orders * 0.9) - 1);
  const used = new Set();
  for (let k = 0; k < params.kills; k++) {
    let at = rng.int(lo, hi);
    for (let tries = 0; used.has(at) && tries < 1000; tries++) at = rng.int(lo, hi);
    used.add(at);
    const mode = rng.chance(0.5) ? 'timed' : 'post';
    kills.push({ afterAccepted: at + 1, mode, delayMs: mode === 'timed' ? rng.int(0, 400) : rng.int(0, 10), downMs: rng.int(0, 500) });
  }
  kills.sort((a, b) => a.afterAccepted - b.afterAccepted);
  return { orders, kills };
}
