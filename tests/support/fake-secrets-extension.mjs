// A stand-in for the AWS Parameters and Secrets Lambda Extension (a test
// double: the real one runs only inside Lambda). It answers
// GET /secretsmanager/get?secretId=ID as the extension documents, checking the
// X-Aws-Parameters-Secrets-Token header against $EXPECTED_TOKEN.
//
//   node tests/support/fake-secrets-extension.mjs --secret-id ARN --value V [--status 403]
// Prints "listening <port>"; exits on SIGTERM or when stdin closes.
import { createServer } from 'node:http';

const args = process.argv.slice(2);
const opt = (n) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const status = Number(opt('status') ?? 200);
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
