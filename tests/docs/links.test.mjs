// Every relative link and anchor in docs/*.md, docs/adr/*.md and README.md
// resolves: the file or directory exists, and a #fragment names a heading
// (GitHub's slug rules, with -1, -2 for repeats) or an <a id> of the target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { REPO_ROOT, anchorsOf, linksOf, markdownFiles, read, slug } from './lib.mjs';

const files = markdownFiles();
const anchorCache = new Map();
function anchors(rel) {
  if (!anchorCache.has(rel)) anchorCache.set(rel, anchorsOf(read(rel)));
  return anchorCache.get(rel);
}

test('slugs follow GitHub', () => {
  assert.equal(slug('DLQ growing'), 'dlq-growing');
  assert.equal(slug('API 5xx'), 'api-5xx');
  assert.equal(slug('`orderly_orders_total`'), 'orderly_orders_total');
  assert.equal(slug('Lambda vs Fargate (compute)'), 'lambda-vs-fargate-compute');
  assert.equal(slug('ADR 0006: One table per service'), 'adr-0006-one-table-per-service');
  assert.equal(slug('Pipes → EventBridge'), 'pipes--eventbridge');
  assert.equal(slug('[Deploy](x.md) to AWS'), 'deploy-to-aws');
});

test('the checked set: docs/, docs/adr/ and README.md', () => {
  for (const f of ['docs/architecture.md', 'docs/events.md', 'docs/protocols-and-security.md', 'docs/operations.md', 'README.md'])
    assert.ok(files.includes(f), `${f} is missing`);
  assert.ok(files.filter((f) => f.startsWith('docs/adr/')).length >= 6, 'ADRs missing');
});

for (const file of files) {
  test(`links in ${file} resolve`, () => {
    const problems = [];
    for (const { target, n } of linksOf(read(file))) {
      if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:, ...
      const hash = target.indexOf('#');
      const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
      const fragment = hash < 0 ? '' : decodeURIComponent(target.slice(hash + 1));
      if (pathPart.startsWith('/')) {
        problems.push(`${file}:${n}: ${target}: use a relative link, not a site-absolute one`);
        continue;
      }
      const resolved = pathPart ? normalize(join(dirname(file), pathPart)) : file;
      if (resolved.startsWith('..')) {
        problems.push(`${file}:${n}: ${target} leaves the repository`);
        continue;
      }
      const abs = join(REPO_ROOT, resolved);
      if (!existsSync(abs)) {
        problems.push(`${file}:${n}: ${target}: ${relative(REPO_ROOT, abs)} does not exist`);
        continue;
      }
      if (!fragment) continue;
      if (statSync(abs).isDirectory() || !resolved.endsWith('.md')) {
        if (!/^L\d+(-L\d+)?$/.test(fragment)) problems.push(`${file}:${n}: ${target}: a fragment on a non-Markdown target`);
        continue;
      }
      if (!anchors(resolved).has(fragment)) problems.push(`${file}:${n}: ${target}: no heading or anchor "${fragment}" in ${resolved}`);
    }
    assert.deepEqual(problems, []);
  });
}

// Alarm descriptions point at docs/operations.md#<anchor> (RUNBOOK_ANCHORS in
// infra/lib/observability.ts): every one of those headings must exist.
test('docs/operations.md has a runbook heading for every alarm anchor', () => {
  const wanted = new Set(['dlq-growing', 'queue-backlog', 'function-errors', 'throttling', 'api-5xx', 'api-latency', 'saga-timeouts', 'stuck-saga', 'bad-deploy']);
  const obs = join(REPO_ROOT, 'infra/lib/observability.ts');
  if (existsSync(obs)) {
    const block = /RUNBOOK_ANCHORS\s*=\s*\{([\s\S]*?)\}/.exec(read('infra/lib/observability.ts'));
    assert.ok(block, 'infra/lib/observability.ts: RUNBOOK_ANCHORS not found');
    for (const m of block[1].matchAll(/:\s*'([^']+)'/g)) wanted.add(m[1]);
  }
  const have = anchors('docs/operations.md');
  assert.deepEqual([...wanted].filter((a) => !have.has(a)), []);
  assert.ok(have.has('alarms-and-runbooks'), 'the "## Alarms and runbooks" section is missing');
});
