// Shared helpers for the documentation checks (not a test file itself: node
// --test only runs *.test.mjs here): the repository root, Markdown files,
// fenced blocks, headings and GitHub's anchor slugs.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function read(rel) {
  return readFileSync(join(REPO_ROOT, rel), 'utf8');
}

// The Markdown files the checks cover: docs/*.md, docs/adr/*.md and README.md,
// as repository-relative paths, sorted.
export function markdownFiles() {
  const out = [];
  for (const dir of ['docs', 'docs/adr']) {
    const abs = join(REPO_ROOT, dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs).sort()) if (f.endsWith('.md')) out.push(`${dir}/${f}`);
  }
  out.push('README.md');
  return out;
}

// Splits Markdown into lines tagged with whether they sit inside a fenced
// code block, and collects the fenced blocks with their info string.
export function scan(text) {
  const lines = text.split('\n');
  const tagged = [];
  const blocks = [];
  let fence = null; // { marker, info, start, body: [] }
  lines.forEach((line, i) => {
    const m = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)?/.exec(line);
    if (!fence && m) {
      fence = { marker: m[1], info: (m[2] ?? '').toLowerCase(), start: i + 1, body: [] };
      tagged.push({ line, n: i + 1, code: true });
      return;
    }
    if (fence) {
      const close = new RegExp(`^ {0,3}${fence.marker[0] === '`' ? '`' : '~'}{${fence.marker.length},}\\s*$`);
      tagged.push({ line, n: i + 1, code: true });
      if (close.test(line)) {
        blocks.push({ info: fence.info, start: fence.start, text: fence.body.join('\n') });
        fence = null;
      } else {
        fence.body.push(line);
      }
      return;
    }
    tagged.push({ line, n: i + 1, code: false });
  });
  if (fence) blocks.push({ info: fence.info, start: fence.start, text: fence.body.join('\n'), unclosed: true });
  return { lines: tagged, blocks };
}

// Removes inline code spans (their text is not Markdown) for link scanning.
export function stripInlineCode(line) {
  return line.replace(/(`+)(.+?)\1/g, (_, ticks, body) => ' '.repeat(ticks.length * 2 + body.length));
}

// GitHub's heading anchor: the rendered text, lower-cased, with everything but
// letters, marks, digits, spaces, hyphens and underscores removed, spaces
// turned into hyphens (github-slugger). Duplicates get -1, -2, ... appended.
export function slug(headingText) {
  const rendered = headingText
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/`/g, '')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/(^|\W)[*_](\S(?:.*?\S)?)[*_](?=\W|$)/g, '$1$2')
    .trim();
  return rendered
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

// Every anchor a Markdown file defines: heading slugs (with GitHub's -N
// suffixes for repeats) and explicit <a id="..."> / <a name="..."> targets.
export function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  for (const { line, code } of scan(text).lines) {
    if (code) continue;
    const h = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      const base = slug(h[2]);
      const n = seen.get(base) ?? 0;
      anchors.add(n === 0 ? base : `${base}-${n}`);
      seen.set(base, n + 1);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

// Links of a Markdown file outside code: [text](target "title"), <a href>, and
// reference definitions [label]: target. Returns [{target, n}].
export function linksOf(text) {
  const out = [];
  for (const { line, n, code } of scan(text).lines) {
    if (code) continue;
    const l = stripInlineCode(line);
    for (const m of l.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], n });
    for (const m of l.matchAll(/<a\s[^>]*href="([^"]+)"/g)) out.push({ target: m[1], n });
    const def = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/.exec(l);
    if (def) out.push({ target: def[1], n });
  }
  return out;
}
