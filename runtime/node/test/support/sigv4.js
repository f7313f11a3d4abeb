'use strict';
// AWS Signature Version 4, recomputed from a request as the server received it, so tests can
// check that an SDK running in the sandbox signed exactly what reached the wire.
const crypto = require('crypto');

const hmac = (key, s) => crypto.createHmac('sha256', key).update(s).digest();
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

// AWS's URI encoding: everything but unreserved characters, '/' kept in paths.
function uriEncode(s, keepSlash) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, keepSlash ? '/' : '%2F');
}

function canonicalQuery(search) {
  if (!search) return '';
  return search.split('&').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    const k = decodeURIComponent(i < 0 ? kv : kv.slice(0, i));
    const v = i < 0 ? '' : decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' '));
    return [uriEncode(k), uriEncode(v)];
  }).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
}

// req: {method, url, headers (lowercased), body (Buffer)}; returns {ok, expected, got, scope}.
function verifySigV4(req, secretAccessKey, { service, s3 } = {}) {
  const auth = req.headers.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { ok: false, reason: `not a SigV4 Authorization header: ${auth}` };
  const [, , date, region, svc, signedHeaders, got] = m;
  const [pathPart, search] = req.url.split('?');
  const canonicalPath = s3 ? pathPart : pathPart.split('/').map((seg) => uriEncode(decodeURIComponent(seg))).join('/');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = req.headers['x-amz-content-sha256'] || sha256(req.body);
  const canonical = [req.method, canonicalPath || '/', canonicalQuery(search), canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const amzDate = req.headers['x-amz-date'];
  const scope = `${date}/${region}/${svc}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let k = hmac(`AWS4${secretAccessKey}`, date);
  k = hmac(k, region);
  k = hmac(k, svc);
  k = hmac(k, 'aws4_request');
  const expected = crypto.createHmac('sha256', k).update(toSign).digest('hex');
  const bodyOk = !req.headers['x-amz-content-sha256'] || req.headers['x-amz-content-sha256'] === 'UNSIGNED-PAYLOAD' || req.headers['x-amz-content-sha256'] === sha256(req.body);
  return { ok: expected === got && bodyOk && (!service || svc === service), expected, got, scope, bodyOk };
}

module.exports = { verifySigV4 };
