// The race client's load: RACE_THREADS concurrent workers, each a customer of
// its own, take the next order of the seeded plan, place it (Idempotency-Key =
// the plan's key, kept for every retry), wait the plan's 0-0.4 s and cancel
// it, then take the next. Meanwhile the server is kill -9'd at the plan's
// moments and restarted on the same data directory; a request that fails with
// a connection error (the server is down, or was killed mid-request) is sent
// again, the same way, once the next incarnation listens.
import { req, sleep } from '../e2e/lib.mjs';

const ADDRESS = Object.freeze({ name: 'Race Client', line1: '9 Race Way', city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' });
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'TIMEOUT', 'TRUNCATED', 'ECONNABORTED', 'ETIMEDOUT']);
const RETRY_BUDGET_MS = 120_000; // per request, across restarts
const RETRY_PAUSE_MS = 50;

export function orderBodyFor(planned) {
  return { items: planned.items.map((l) => ({ ...l })), paymentToken: planned.paymentToken, shippingAddress: { ...ADDRESS } };
}

function retryAfterMs(r) {
  const s = Number(r.headers?.['retry-after']);
  return Number.isFinite(s) && s > 0 ? Math.min(s * 1000, 2000) : 200;
}

// fn(url) -> response, sent again after connection errors until it answers.
// Returns {r, attempts, connectionErrors, lastFailureAt}.
async function untilAnswered(server, fn, what, counters) {
  const start = Date.now();
  let attempts = 0;
  const connectionErrors = [];
  let lastFailureAt = null;
  for (;;) {
    await server.ready();
    const url = server.url;
    if (!url) {
      // Killed between ready() and here, or stopped.
      if (Date.now() - start > RETRY_BUDGET_MS) throw Object.assign(new Error(`${what}: the server never came back`), { code: 'NO_ANSWER' });
      await sleep(RETRY_PAUSE_MS);
      continue;
    }
    attempts++;
    const deaths = server.kills.length + server.unexpectedExits.length;
    try {
      const r = await fn(url);
      return { r, attempts, connectionErrors, lastFailureAt };
    } catch (e) {
      const code = e.code ?? (e.truncated ? 'TRUNCATED' : undefined);
      if (!CONNECTION_ERRORS.has(code)) throw e;
      connectionErrors.push(code);
      lastFailureAt = Date.now();
      counters.connectionErrors[code] = (counters.connectionErrors[code] ?? 0) + 1;
      // Only a dying server may drop a request: a reset or a 15 s hang from
      // one that stayed up is a failure of its own (sent again all the same).
      if (server.kills.length + server.unexpectedExits.length === deaths && server.url === url)
        counters.unexplained.push(`${what}: ${code} from a server that stayed up (${e.message})`);
      if (Date.now() - start > RETRY_BUDGET_MS)
        throw Object.assign(new Error(`${what}: no answer within ${RETRY_BUDGET_MS} ms (${attempts} attempts, ${connectionErrors.join(' ')})`), { code: 'NO_ANSWER' });
      await sleep(RETRY_PAUSE_MS);
    }
  }
}

// Runs the plan against the server. tokens[w] is worker w's customer token.
// onAccepted(n) is called after the n-th accepted order (the kill schedule).
// Returns {orders: [client record per planned order], clientErrors, counters}.
// onPostSent() is called as each POST /v1/orders goes out (the 'post' kills).
export async function runLoad({ server, plan, tokens, customers, onAccepted = () => {}, onPostSent = () => {} }) {
  const records = plan.orders.map((p) => ({
    index: p.index,
    key: p.key,
    paymentToken: p.paymentToken,
    items: p.items,
    cancelDelayMs: p.cancelDelayMs,
    customer: null,
    orderIds: [],
    accepted: false,
    orderId: null,
    place: null,
    cancel: null,
  }));
  const clientErrors = [];
  const counters = { connectionErrors: {}, unexplained: [], placeRetried: 0, placeFoundByKey: 0, cancelRetried: 0, status: {}, cancelStatus: {}, cancelBody: {}, throttled: 0 };
  let next = 0;
  let accepted = 0;

  const place = async (w, rec, planned) => {
    const body = orderBodyFor(planned);
    const t0 = Date.now();
    for (let round = 0; ; round++) {
      const { r, attempts, connectionErrors, lastFailureAt } = await untilAnswered(server, (url) => {
        const sent = req(url, { method: 'POST', path: '/v1/orders', token: tokens[w], body, headers: { 'Idempotency-Key': planned.key } });
        onPostSent();
        return sent;
      }, `POST /v1/orders key ${planned.key}`, counters);
      if (attempts > 1) counters.placeRetried++;
      counters.status[r.status] = (counters.status[r.status] ?? 0) + 1;
      if (r.status === 429 || r.status === 503) {
        // Documented refusals (rate limit, load shedding, a busy store): same key, later.
        counters.throttled++;
        if (round > 200) {
          clientErrors.push({ what: `POST /v1/orders key ${planned.key}: still ${r.status} after ${round} rounds`, key: planned.key });
          return;
        }
        await sleep(retryAfterMs(r));
        continue;
      }
      rec.place = { status: r.status, attempts: attempts + round, ms: Date.now() - t0 };
      if (connectionErrors.length > 0) {
        rec.place.connectionErrors = connectionErrors;
        // Written before the connection broke: the retry found it by its key.
        const created = Date.parse(r.json?.createdAt ?? '');
        rec.place.foundByKey = Number.isFinite(created) && created <= lastFailureAt;
        if (rec.place.foundByKey) counters.placeFoundByKey++;
      }
      if (r.status === 202 && r.json && typeof r.json.orderId === 'string') {
        rec.orderIds.push(r.json.orderId);
        rec.accepted = true;
        rec.orderId = r.json.orderId;
        rec.total = r.json.total;
        return;
      }
      clientErrors.push({ what: `POST /v1/orders key ${planned.key} answered ${r.status}: ${String(r.text).slice(0, 300)}`, key: planned.key });
      return;
    }
  };

  const cancel = async (w, rec) => {
    const t0 = Date.now();
    rec.cancel = { answered: false, answers: [] };
    for (let round = 0; ; round++) {
      const { r, attempts } = await untilAnswered(server, (url) => req(url, {
        method: 'POST', path: `/v1/orders/${encodeURIComponent(rec.orderId)}/cancel`, token: tokens[w],
      }), `cancel ${rec.orderId}`, counters);
      if (attempts > 1) counters.cancelRetried++;
      counters.cancelStatus[r.status] = (counters.cancelStatus[r.status] ?? 0) + 1;
      rec.cancel.answers.push({ status: r.status, attempts, bodyStatus: r.status < 300 ? r.json?.status : undefined, at: Date.now() - t0 });
      if (r.status === 429) {
        counters.throttled++;
        await sleep(retryAfterMs(r));
        continue;
      }
      if (r.status >= 500) {
        // A 5xx is a failure, whatever follows; ask again so the order still gets its answer.
        clientErrors.push({ what: `cancel answered ${r.status}: ${String(r.text).slice(0, 300)}`, orderId: rec.orderId });
        if (round > 50) return;
        await sleep(retryAfterMs(r));
        continue;
      }
      if (r.status === 202 || r.status === 200 || r.status === 409) {
        Object.assign(rec.cancel, {
          answered: true,
          status: r.status,
          bodyStatus: r.status === 409 ? undefined : r.json?.status,
          cancellationRequested: r.json?.cancellationRequested === true,
          ms: Date.now() - t0,
        });
        const k = r.status === 409 ? '409' : `${r.status} ${r.json?.status ?? ''}${r.json?.cancellationRequested ? ' requested' : ''}`.trim();
        counters.cancelBody[k] = (counters.cancelBody[k] ?? 0) + 1;
        return;
      }
      clientErrors.push({ what: `cancel answered ${r.status}: ${String(r.text).slice(0, 300)}`, orderId: rec.orderId });
      return;
    }
  };

  const worker = async (w) => {
    while (next < plan.orders.length) {
      const i = next++;
      const planned = plan.orders[i];
      const rec = records[i];
      rec.customer = customers[w];
      try {
        await place(w, rec, planned);
        if (!rec.accepted) continue;
        onAccepted(++accepted);
        await sleep(planned.cancelDelayMs);
        await cancel(w, rec);
      } catch (e) {
        clientErrors.push({ what: `order ${i} (key ${planned.key}): ${e.message}`, key: planned.key, orderId: rec.orderId ?? undefined });
      }
    }
  };
  await Promise.all(Array.from({ length: tokens.length }, (_, w) => worker(w)));
  for (const what of counters.unexplained) clientErrors.push({ what });
  return { orders: records, clientErrors, counters };
}
