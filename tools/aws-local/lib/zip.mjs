// Unpacks a Lambda deployment package (a zip) the way Lambda does into /var/task: every
// file, with its Unix mode (the bootstrap must stay executable). Stored and deflated
// entries only, which is what `zip` and the CDK write. No dependency beyond node:zlib.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';

function entries(buf) {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const out = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(off) !== 0x02014b50) throw new Error('zip: bad central directory entry');
    const madeBy = buf.readUInt16LE(off + 4) >> 8;
    const method = buf.readUInt16LE(off + 10);
    const compressed = buf.readUInt32LE(off + 20);
    const size = buf.readUInt32LE(off + 24);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const external = buf.readUInt32LE(off + 38);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nameLen);
    if (compressed === 0xffffffff || size === 0xffffffff) throw new Error(`zip: ${name} needs zip64, not supported`);
    const mode = madeBy === 3 ? (external >>> 16) & 0o7777 : 0o644;
    out.push({ name, method, compressed, size, local, mode });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function data(buf, e) {
  if (buf.readUInt32LE(e.local) !== 0x04034b50) throw new Error(`zip: bad local header for ${e.name}`);
  const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
  const raw = buf.subarray(start, start + e.compressed);
  if (e.method === 0) return raw;
  if (e.method === 8) return inflateRawSync(raw);
  throw new Error(`zip: ${e.name} uses compression method ${e.method}`);
}

/**
 * Extracts `zipFile` under `cacheDir/<sha256 of the zip>/` once, and returns that directory.
 */
export function unpack(zipFile, cacheDir) {
  const buf = readFileSync(zipFile);
  const digest = createHash('sha256').update(buf).digest('hex').slice(0, 32);
  const dir = path.join(cacheDir, digest);
  if (existsSync(path.join(dir, '.complete'))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const e of entries(buf)) {
    const target = path.resolve(tmp, e.name);
    if (!target.startsWith(tmp + path.sep)) throw new Error(`zip: ${e.name} escapes the package`);
    if (e.name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(path.dirname(target), { recursive: true });
    const bytes = data(buf, e);
    if (bytes.length !== e.size) throw new Error(`zip: ${e.name}: ${bytes.length} bytes, expected ${e.size}`);
    writeFileSync(target, bytes);
    chmodSync(target, e.mode || 0o644);
  }
  writeFileSync(path.join(tmp, '.complete'), '');
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}
