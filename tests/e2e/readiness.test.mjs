// /readyz over time: an idle server stays ready. The relay and the workers are
// called stalled after 10 s without a good pass, so an idle loop must keep
// recording its passes; this runs past that window.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { req, sleep, startServer } from './lib.mjs';

let srv;
before(async () => {
  srv = await startServer();
});
after(async () => {
  if (srv) await srv.stop();
});

test('an idle server is still ready after the 10 s stall window', async () => {
  await sleep(11_000);
  const r = await req(srv.url, { path: '/readyz' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.bus.relay, 'ok');
  assert.equal(r.json.bus.workers, 'ok');
});
