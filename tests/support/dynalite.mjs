// Starts dynalite (a real DynamoDB implementation, in memory) for the C++ tests.
//
//   node tests/support/dynalite.mjs --port 0 [--key key.pem --cert cert.pem]
//
// Listens on 127.0.0.1 only, tables become ACTIVE at once, and the chosen port
// is printed as "listening <port>" on stdout. Exits on SIGTERM or when stdin closes
// (so a crashed parent leaves no server behind).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const options = { createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 };
if (opt('key')) {
  options.ssl = true;
  options.key = readFileSync(opt('key'));
  options.cert = readFileSync(opt('cert'));
  options.ca = readFileSync(opt('cert'));
}
const server = dynalite(options);
server.listen(Number(opt('port') ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
