// A stand-in for the AWS Parameters and Secrets Lambda Extension (a test
// double: the real one runs only inside Lambda). It answers
// GET /secretsmanager/get?secretId=ID as the extension documents, checking the
// X-Aws-Parameters-Secrets-Token header against $EXPECTED_TOKEN.
//
//   node tests/support/fake-secrets-extension.mjs --secret-id ARN --value V [--status 403]
//        [--not-ready-ms N] [--fail-first K]
// --not-ready-ms: for N ms after start it answers 400 "not ready to serve
// traffic, please wait", as the real extension does while it initialises;
// --fail-first: the first K requests get 502 (it could not reach Secrets Manager).
// Every request is counted; GET /count (no token) answers the count.
// Prints "listening <port>"; exits on SIGTERM or when stdin closes.
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const opt = (n) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const started = Date.now();
let requests = 0;
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const status = Number(opt('status') ?? 200);
  if (url.pathname === '/count') {
    res.writeHead(200).end(String(requests));
    return;
  }
  requests += 1;
  if (Date.now() - started < Number(opt('not-ready-ms') ?? 0)) {
    res.writeHead(400).end('{"message":"not ready to serve traffic, please wait"}');
    return;
  }
  if (requests <= Number(opt('fail-first') ?? 0)) {
    res.writeHead(502, { 'x-amzn-errortype': 'ConnectionError' }).end('{"message":"could not reach Secrets Manager"}');
    return;
  }
  if (req.method !== 'GET' || url.pathname !== '/secretsmanager/get') {
    res.writeHead(404).end();
    return;
  }
  if (req.headers['x-aws-parameters-secrets-token'] !== process.env.EXPECTED_TOKEN) {
    res.writeHead(401).end('{"message":"missing or wrong token"}');
    return;
  }
  if (status !== 200 || url.searchParams.get('secretId') !== opt('secret-id')) {
    res.writeHead(status === 200 ? 400 : status).end('{"message":"no"}');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ ARN: opt('secret-id'), Name: 'orderly/payments/provider-key', SecretString: opt('value'), VersionId: 'v1' }));
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
