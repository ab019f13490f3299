// Numbers quoted in the docs from bench/results are checked against the
// results. Each quoted figure carries a marker right after it:
//
//   cold start 2.4 ms <!-- bench: 2026-11-25-lambda-coldstart.md "2.37" -->
//
// The quoted string must appear in bench/results/<file>, and the figure shown
// before the marker on the same line must be that number (within 5%, so a
// rounded figure passes and a stale one does not).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, markdownFiles, read, scan } from './lib.mjs';

const MARKER = /<!--\s*bench:\s*(\S+)\s+"([^"]+)"\s*-->/g;
const RESULTS = 'bench/results';

function numbers(s) {
  return [...s.matchAll(/\d[\d,]*(?:\.\d+)?/g)].map((m) => Number(m[0].replace(/,/g, '')));
}

export function markers() {
  const out = [];
  for (const file of markdownFiles()) {
    for (const { line, n, code } of scan(read(file)).lines) {
      if (code) continue;
      for (const m of line.matchAll(MARKER)) out.push({ file, n, results: m[1], quote: m[2], before: line.slice(0, m.index) });
    }
  }
  return out;
}

const all = markers();

test('the docs quote bench results with markers, and cite every results file', () => {
  assert.ok(all.length >= 10, `only ${all.length} bench markers in the docs`);
  const cited = new Set(all.filter((m) => m.file === 'docs/architecture.md').map((m) => m.results));
  for (const f of readdirSync(join(REPO_ROOT, RESULTS)).filter((f) => f.endsWith('.md')))
    assert.ok(cited.has(f), `docs/architecture.md quotes nothing from ${RESULTS}/${f}`);
});

test('every quoted string appears in its results file', () => {
  const problems = [];
  for (const m of all) {
    const path = `${RESULTS}/${m.results}`;
    if (!existsSync(join(REPO_ROOT, path))) {
      problems.push(`${m.file}:${m.n}: ${path} does not exist`);
      continue;
    }
    if (!read(path).includes(m.quote)) problems.push(`${m.file}:${m.n}: "${m.quote}" is not in ${path}`);
  }
  assert.deepEqual(problems, []);
});

test('the figure shown before each marker is the quoted number (within 5%)', () => {
  const problems = [];
  for (const m of all) {
    const q = numbers(m.quote);
    if (q.length === 0) {
      problems.push(`${m.file}:${m.n}: the quote "${m.quote}" has no number`);
      continue;
    }
    const shown = numbers(m.before).slice(-3);
    const want = q[0];
    const ok = shown.some((x) => (want === 0 ? x === 0 : Math.abs(x - want) / Math.abs(want) <= 0.05));
    if (!ok) problems.push(`${m.file}:${m.n}: shows ${JSON.stringify(shown)} before a marker quoting "${m.quote}" (${m.results})`);
  }
  assert.deepEqual(problems, []);
});
