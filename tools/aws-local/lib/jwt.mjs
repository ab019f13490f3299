// The local token issuer: the data directory's RSA key, the same files `orderly token`
// signs with and `orderly up` verifies with (jwt-private.pem; kid = RFC 7638 thumbprint).
// Verification follows API Gateway's JWT authorizer.
import { createHash, createPublicKey, generateKeyPairSync, verify as cryptoVerify, createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync, fsyncSync } from 'node:fs';
import path from 'node:path';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** Reads DIR/jwt-private.pem, or creates it (2048-bit RSA, mode 0600) as `orderly` does. */
export function loadOrCreateKey(dir) {
  mkdirSync(dir, { recursive: true });
  const privPath = path.join(dir, 'jwt-private.pem');
  const pubPath = path.join(dir, 'jwt-public.pem');
  if (!existsSync(privPath)) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    try {
      // O_EXCL: if another process made the key meanwhile, keep theirs.
      const fd = openSync(privPath, 'wx', 0o600);
      writeSync(fd, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      fsyncSync(fd);
      closeSync(fd);
      writeFileSync(pubPath, publicKey.export({ type: 'spki', format: 'pem' }));
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
  }
  const privatePem = readFileSync(privPath, 'utf8');
  const priv = createPrivateKey(privatePem);
  const pub = createPublicKey(priv);
  const jwk = pub.export({ format: 'jwk' });
  const canon = JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n });
  const kid = b64url(createHash('sha256').update(canon).digest());
  return {
    kid,
    privateKey: priv,
    publicKey: pub,
    jwks: { keys: [{ kty: 'RSA', use: 'sig', alg: 'RS256', kid, n: jwk.n, e: jwk.e }] },
  };
}

/** Signs a token like `orderly token` (for tests and tools). */
export function issueToken(key, { issuer, audience, subject, scopes = [], ttl = 3600, extra = {} }) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT', kid: key.kid };
  const claims = { iss: issuer, aud: audience, sub: subject, scope: scopes.join(' '), iat: now, nbf: now, exp: now + ttl, ...extra };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(cryptoSign('RSA-SHA256', Buffer.from(input), key.privateKey))}`;
}

export class Unauthorized extends Error {}

const ALGS = { RS256: 'RSA-SHA256', RS384: 'RSA-SHA384', RS512: 'RSA-SHA512' };

/**
 * API Gateway's JWT authorizer: the token's kid names a key of the issuer's JWKS, an RSA
 * signature verifies, iss equals the issuer, aud (or, without aud, client_id) is one of the
 * audiences, exp is in the future and nbf/iat not. Returns the claims or throws Unauthorized.
 */
export function verifyToken(token, { keys, issuer, audience, now = Date.now() / 1000 }) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Unauthorized('the token is not a JWS compact token');
  let header;
  let claims;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    throw new Unauthorized('the token is not JSON');
  }
  const alg = ALGS[header.alg];
  if (!alg) throw new Unauthorized(`unsupported alg ${header.alg}`);
  const jwk = keys.keys.find((k) => k.kid === header.kid);
  if (!jwk) throw new Unauthorized('kid not found in the JWKS');
  const pub = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: 'jwk' });
  const ok = cryptoVerify(alg, Buffer.from(`${parts[0]}.${parts[1]}`), pub, Buffer.from(parts[2], 'base64url'));
  if (!ok) throw new Unauthorized('signature verification failed');
  if (claims.iss !== issuer) throw new Unauthorized('the token has an invalid issuer');
  const auds = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const audOk = claims.aud !== undefined ? auds.some((a) => audience.includes(a)) : audience.includes(claims.client_id);
  if (!audOk) throw new Unauthorized('the token has an invalid audience');
  if (typeof claims.exp !== 'number') throw new Unauthorized('the token has no exp');
  if (claims.exp <= now) throw new Unauthorized('the token has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > now) throw new Unauthorized('the token is not valid yet');
  if (typeof claims.iat === 'number' && claims.iat > now + 1) throw new Unauthorized('the token was issued in the future');
  return claims;
}
