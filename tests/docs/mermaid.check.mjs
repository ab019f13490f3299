// Every Mermaid diagram in docs/*.md, docs/adr/*.md and README.md renders with
// @mermaid-js/mermaid-cli (the same Mermaid major version GitHub uses), in
// Debian's chromium. Not a *.test.mjs file: it needs a browser, so it runs as
// its own ctest (docs.mermaid):
//
//   node --test tests/docs/mermaid.check.mjs
//
// The browser comes from tests/docs/puppeteer-config.json (/usr/bin/chromium,
// --no-sandbox); ORDERLY_CHROMIUM overrides its path. Puppeteer never downloads
// a browser here (package.json: "puppeteer": {"skipDownload": true}).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, markdownFiles, read, scan } from './lib.mjs';

const config = JSON.parse(readFileSync(join(REPO_ROOT, 'tests/docs/puppeteer-config.json'), 'utf8'));
if (process.env.ORDERLY_CHROMIUM) config.executablePath = process.env.ORDERLY_CHROMIUM;

const diagrams = [];
for (const file of markdownFiles())
  for (const b of scan(read(file)).blocks) if (b.info === 'mermaid') diagrams.push({ file, line: b.start, text: b.text, unclosed: b.unclosed });

test('the docs have diagrams, in closed ```mermaid fences', () => {
  assert.ok(diagrams.length >= 10, `only ${diagrams.length} mermaid blocks`);
  for (const d of diagrams) assert.ok(!d.unclosed, `${d.file}:${d.line}: unclosed fence`);
});

test('every Mermaid diagram renders', { timeout: 600_000 }, async (t) => {
  assert.ok(existsSync(config.executablePath), `${config.executablePath} is missing: apt-get install chromium (or set ORDERLY_CHROMIUM)`);
  const puppeteer = (await import('puppeteer')).default;
  const { renderMermaid } = await import('@mermaid-js/mermaid-cli');
  const browser = await puppeteer.launch({ headless: true, ...config });
  const failures = [];
  try {
    for (const d of diagrams) {
      try {
        const { data } = await renderMermaid(browser, d.text, 'svg', { mermaidConfig: { securityLevel: 'strict' } });
        const svg = Buffer.from(data).toString('utf8');
        if (!svg.includes('<svg') || /Syntax error in text|Parse error/i.test(svg)) failures.push(`${d.file}:${d.line}: rendered an error diagram`);
      } catch (e) {
        failures.push(`${d.file}:${d.line}: ${String(e?.message ?? e).split('\n').slice(0, 6).join('\n    ')}`);
      }
    }
  } finally {
    await browser.close();
  }
  t.diagnostic(`${diagrams.length} diagrams rendered`);
  assert.deepEqual(failures, []);
});
