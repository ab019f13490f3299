// TEST DOUBLE: a Lambda custom runtime in Node, for tests/aws-local/units.test.mjs. It
// speaks the Lambda Runtime API (2018-06-01) against $AWS_LAMBDA_RUNTIME_API and does what
// each event says: {"op":"echo"} answers with what it saw (headers, env), {"op":"sleep",
// "ms":N} answers after N ms, {"op":"error"} posts an invocation error, {"op":"crash"}
// exits mid-invocation. FAKE_INIT=error reports an init error and exits.
import http from 'node:http';

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true });

function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const r = http.request({ host, port, method, path: `/2018-06-01/runtime${path}`, agent, headers }, (res) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: t }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

if (process.env.FAKE_INIT === 'error') {
  await call('POST', '/init/error', JSON.stringify({ errorType: 'Fake.InitError', errorMessage: 'no config' }), { 'Lambda-Runtime-Function-Error-Type': 'Fake.InitError' });
  process.exit(1);
}

for (;;) {
  const next = await call('GET', '/invocation/next');
  const id = next.headers['lambda-runtime-aws-request-id'];
  const ev = JSON.parse(next.body);
  if (ev.op === 'crash') process.exit(3);
  if (ev.op === 'sleep') await new Promise((r) => setTimeout(r, ev.ms));
  if (ev.op === 'error') {
    await call('POST', `/invocation/${id}/error`, JSON.stringify({ errorType: 'Fake.Boom', errorMessage: 'boom' }), { 'Lambda-Runtime-Function-Error-Type': 'Fake.Boom' });
    continue;
  }
  const answer = ev.answer !== undefined ? JSON.stringify(ev.answer) : JSON.stringify({
    requestId: id,
    deadline: Number(next.headers['lambda-runtime-deadline-ms']),
    arn: next.headers['lambda-runtime-invoked-function-arn'],
    trace: next.headers['lambda-runtime-trace-id'],
    handler: process.env._HANDLER,
    pid: process.pid,
    event: ev,
  });
  await call('POST', `/invocation/${id}/response`, answer, { 'content-type': 'application/json' });
}
