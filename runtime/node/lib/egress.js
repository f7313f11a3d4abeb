'use strict';
// Host-side fetch for sandboxed functions: egress policy (SSRF protection),
// manual redirects with a re-check per hop, timeouts, response size cap and a
// redacted request trace.
const net = require('net');
const dns = require('dns');
const http = require('http');
const https = require('https');
const zlib = require('zlib');
const { isUtf8 } = require('buffer');

// ---- IP parsing ---------------------------------------------------------------
function ipv4Bytes(s) {
  const p = s.split('.');
  if (p.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(p[i])) return null;
    const n = Number(p[i]);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

function ipv6Bytes(s) {
  s = s.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (!net.isIPv6(s)) return null;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) >= 0) {
    const v4 = ipv4Bytes(s.slice(lastColon + 1));
    if (!v4) return null;
    s = s.slice(0, lastColon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16);
  }
  const halves = s.split('::');
  const parse = (x) => (x === '' ? [] : x.split(':').map((h) => parseInt(h, 16)));
  let groups;
  if (halves.length === 2) {
    const a = parse(halves[0]);
    const b = parse(halves[1]);
    groups = a.concat(new Array(8 - a.length - b.length).fill(0), b);
  } else {
    groups = parse(halves[0]);
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => { out[2 * i] = g >> 8; out[2 * i + 1] = g & 0xff; });
  return out;
}

function ipBytes(s) {
  s = String(s);
  if (net.isIPv4(s)) return ipv4Bytes(s);
  return ipv6Bytes(s);
}

function parseCidr(s) {
  s = String(s).trim();
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : s;
  const bytes = ipBytes(addr);
  if (!bytes) return null;
  const bits = slash >= 0 ? Number(s.slice(slash + 1)) : bytes.length * 8;
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) return null;
  return { bytes, bits };
}

function inCidr(bytes, cidr) {
  if (bytes.length !== cidr.bytes.length) return false;
  let bits = cidr.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}

const DENY = [
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4', '255.255.255.255/32',
  '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'fec0::/10', 'ff00::/8', '100::/64', '64:ff9b:1::/48',
  '2001:db8::/32',
].map(parseCidr);

// Embedded IPv4 addresses in IPv6 forms that route to IPv4: mapped (::ffff:a.b.c.d),
// compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
function unwrap(bytes) {
  if (bytes.length !== 16) return null;
  const zero = (a, b) => { for (let i = a; i < b; i++) if (bytes[i] !== 0) return false; return true; };
  if (zero(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12, 16);
  if (zero(0, 12) && !zero(12, 16) && !(zero(12, 15) && bytes[15] === 1)) return bytes.slice(12, 16);
  if (bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zero(4, 12)) return bytes.slice(12, 16);
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return bytes.slice(2, 6);
  return null;
}

// ---- policy ---------------------------------------------------------------------
class EgressPolicy {
  constructor(allowSpec) {
    this.allowCidrs = [];
    this.allowHosts = new Set();
    this.allowSuffixes = [];
    for (let item of String(allowSpec || '').split(',')) {
      item = item.trim().toLowerCase();
      if (!item) continue;
      const c = parseCidr(item);
      if (c) this.allowCidrs.push(c);
      else if (item.startsWith('*.')) this.allowSuffixes.push(item.slice(1));
      else this.allowHosts.add(item.replace(/^\[|\]$/g, ''));
    }
  }

  hostAllowed(hostname) {
    const h = String(hostname).toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    if (this.allowHosts.has(h)) return true;
    return this.allowSuffixes.some((s) => h.endsWith(s));
  }

  // Returns null when the address may be contacted, else a reason string.
  checkAddress(addr) {
    const bytes = ipBytes(addr);
    if (!bytes) return `unparseable address ${addr}`;
    const candidates = [bytes];
    const inner = unwrap(bytes);
    if (inner) candidates.push(inner);
    for (const b of candidates) {
      if (this.allowCidrs.some((c) => inCidr(b, c))) return null;
    }
    for (const b of candidates) {
      if (DENY.some((c) => inCidr(b, c))) return `${addr} is in a private, loopback, link-local or reserved range`;
    }
    return null;
  }
}

// ---- trace helpers -------------------------------------------------------------------
const SECRET_KEY = /(key|token|secret|passw|pwd|auth|sig|credential|session|code|access|bearer|jwt|api)/i;
function redactUrl(raw) {
  let u;
  try { u = new URL(raw); } catch (e) { return String(raw).slice(0, 2048); }
  u.username = '';
  u.password = '';
  if (u.search) {
    const parts = u.search.slice(1).split('&').map((kv) => {
      const eq = kv.indexOf('=');
      const k = eq >= 0 ? kv.slice(0, eq) : kv;
      let dk = k;
      try { dk = decodeURIComponent(k.replace(/\+/g, ' ')); } catch (e) { /* keep raw */ }
      return eq >= 0 && SECRET_KEY.test(dk) ? `${k}=REDACTED` : kv;
    });
    u.search = '?' + parts.join('&');
  }
  return u.toString().slice(0, 2048);
}

class FetchFailure extends Error {
  constructor(message, type, code) { super(message); this.type = type || 'system'; this.code = code; }
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length']);
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

function lookupAll(hostname) {
  return new Promise((resolve, reject) => {
    dns.lookup(hostname, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs)));
  });
}

// Resolves and checks the destination of one hop. Returns the IP to connect to.
async function resolveChecked(policy, url) {
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const hostOk = policy.hostAllowed(hostname);
  if (net.isIP(hostname)) {
    const why = hostOk ? null : policy.checkAddress(hostname);
    if (why) throw new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: egress denied: ${why}`, 'system', 'EGRESS_DENIED');
    return hostname;
  }
  if (!/^[a-z0-9.\-_]+$/i.test(hostname)) throw new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: invalid host name`, 'system', 'EINVAL');
  let addrs;
  try {
    addrs = await lookupAll(hostname);
  } catch (e) {
    throw new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: getaddrinfo ${e.code || 'ENOTFOUND'} ${hostname}`, 'system', e.code || 'ENOTFOUND');
  }
  if (!addrs.length) throw new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: no address for ${hostname}`, 'system', 'ENOTFOUND');
  if (!hostOk) {
    for (const a of addrs) {
      const why = policy.checkAddress(a.address);
      if (why) throw new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: egress denied: ${hostname} resolves to ${why}`, 'system', 'EGRESS_DENIED');
    }
  }
  return addrs[0].address;
}

function oneHop(url, ip, method, headers, body, deadline, maxBytes, onReq, raw) {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === 'https:' ? https : http;
    const remaining = deadline - Date.now();
    if (remaining <= 0) { reject(new FetchFailure(`network timeout at: ${redactUrl(url.href)}`, 'request-timeout')); return; }
    const opts = {
      host: ip,
      family: net.isIPv6(ip) ? 6 : 4,
      port: url.port || (url.protocol === 'https:' ? 443 : 80),
      path: (url.pathname || '/') + url.search,
      method,
      headers: Object.assign({ host: url.host }, headers),
      agent: agents[url.protocol],
    };
    if (url.protocol === 'https:' && !net.isIP(url.hostname.replace(/^\[|\]$/g, ''))) opts.servername = url.hostname;
    let done = false;
    const fail = (err) => { if (!done) { done = true; clearTimeout(timer); req.destroy(); reject(err); } };
    const timer = setTimeout(() => fail(new FetchFailure(`network timeout at: ${redactUrl(url.href)}`, 'request-timeout')), remaining);
    const req = lib.request(opts, (res) => {
      const status = res.statusCode;
      const rawHeaders = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) rawHeaders.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.resume();
        done = true;
        clearTimeout(timer);
        resolve({ status, statusText: res.statusMessage || '', headers: rawHeaders, location: res.headers.location, bytes: Buffer.alloc(0) });
        return;
      }
      let stream = res;
      const enc = String(res.headers['content-encoding'] || '').toLowerCase();
      if (!raw && method !== 'HEAD' && status !== 204 && status !== 304) {
        if (enc === 'gzip' || enc === 'x-gzip') stream = res.pipe(zlib.createGunzip({ finishFlush: zlib.constants.Z_SYNC_FLUSH }));
        else if (enc === 'deflate') stream = res.pipe(zlib.createInflate());
        else if (enc === 'br') stream = res.pipe(zlib.createBrotliDecompress());
      }
      const chunks = [];
      let size = 0;
      stream.on('data', (c) => {
        size += c.length;
        if (size > maxBytes) {
          fail(new FetchFailure(`content size at ${redactUrl(url.href)} over limit: ${maxBytes}`, 'max-size'));
          res.destroy();
          return;
        }
        chunks.push(c);
      });
      stream.on('error', (e) => fail(new FetchFailure(`Invalid response body while trying to fetch ${redactUrl(url.href)}: ${e.message}`, 'system', e.code)));
      stream.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ status, statusText: res.statusMessage || '', headers: rawHeaders, bytes: Buffer.concat(chunks) });
      });
    });
    onReq(req);
    req.on('error', (e) => fail(new FetchFailure(`request to ${redactUrl(url.href)} failed, reason: ${e.message}`, 'system', e.code)));
    if (body) req.end(body); else req.end();
  });
}

// spec: {url, method, headers:[[k,v]], body, bodyEnc, redirect, timeout, size}
// opts: {policy, deadline (epoch ms), defaultTimeoutMs, maxBytes, onReq(req) for cancellation}
async function hostFetch(spec, opts) {
  let url;
  try {
    url = new URL(String(spec.url));
  } catch (e) {
    throw new FetchFailure(`Only absolute URLs are supported: ${String(spec.url).slice(0, 200)}`, 'system', 'EINVAL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FetchFailure(`Only HTTP(S) protocols are supported: ${url.protocol}`, 'system', 'EPROTO');
  }
  let method = String(spec.method || 'GET').toUpperCase();
  const headers = {};
  let hasUA = false; let hasAccept = false; let hasAE = false;
  for (const [k0, v] of spec.headers || []) {
    const k = String(k0).toLowerCase();
    if (HOP_BY_HOP.has(k)) continue;
    if (k === 'user-agent') hasUA = true;
    if (k === 'accept') hasAccept = true;
    if (k === 'accept-encoding') hasAE = true;
    if (headers[k] !== undefined) headers[k] = headers[k] + ', ' + v; else headers[k] = String(v);
  }
  // spec.raw (the in-isolate http/https module): the headers exactly as given, the body as sent.
  if (!spec.raw) {
    if (!hasUA) headers['user-agent'] = 'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)';
    if (!hasAccept) headers.accept = '*/*';
    if (!hasAE) headers['accept-encoding'] = 'gzip,deflate';
  }
  let body = spec.body != null ? Buffer.from(spec.body, spec.bodyEnc === 'base64' ? 'base64' : 'utf8') : null;
  if (body) headers['content-length'] = String(body.length);
  else if (method === 'POST' || method === 'PUT') headers['content-length'] = '0';

  const perReq = spec.timeout > 0 ? Math.min(spec.timeout, opts.defaultTimeoutMs) : opts.defaultTimeoutMs;
  const deadline = Math.min(opts.deadline, Date.now() + perReq);
  const maxBytes = spec.size > 0 ? Math.min(spec.size, opts.maxBytes) : opts.maxBytes;
  const maxHops = 5;
  let redirected = false;
  for (let hop = 0; ; hop++) {
    const ip = await resolveChecked(opts.policy, url);
    const r = await oneHop(url, ip, method, headers, body, deadline, maxBytes, opts.onReq, !!spec.raw);
    if (r.location && spec.redirect !== 'manual') {
      if (spec.redirect === 'error') throw new FetchFailure(`uri requested responds with a redirect, redirect mode is set to error: ${redactUrl(url.href)}`, 'no-redirect');
      if (hop + 1 > maxHops) throw new FetchFailure(`maximum redirect reached at: ${redactUrl(url.href)}`, 'max-redirect');
      let next;
      try { next = new URL(r.location, url); } catch (e) { throw new FetchFailure(`invalid redirect location: ${String(r.location).slice(0, 200)}`, 'system'); }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new FetchFailure(`Only HTTP(S) protocols are supported: ${next.protocol}`, 'system', 'EPROTO');
      if (r.status === 303 || ((r.status === 301 || r.status === 302) && method === 'POST')) {
        method = 'GET';
        body = null;
        delete headers['content-length'];
        delete headers['content-type'];
      }
      if (next.host !== url.host) {
        delete headers.authorization;
        delete headers.cookie;
      }
      url = next;
      redirected = true;
      continue;
    }
    const out = { status: r.status, statusText: r.statusText, headers: r.headers, url: url.href, redirected };
    out.text = r.bytes.toString('utf8');
    if (r.bytes.length && !isUtf8(r.bytes)) out.b64 = r.bytes.toString('base64');
    return out;
  }
}

module.exports = { EgressPolicy, hostFetch, redactUrl, ipBytes, parseCidr, inCidr, unwrap, FetchFailure };
