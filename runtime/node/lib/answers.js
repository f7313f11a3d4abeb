'use strict';
// Fetches the host answers itself, without the network. A rule names the URLs it takes (a
// `prefix`: same origin and a path starting with the prefix's path; or a `pattern`: a glob
// over origin + path + query, `*` any characters) and the response to give. Standing rules
// come from FUNCTIONS_FETCH_ANSWERS at start (the platform's own request inspector); a call
// may bring its own (`answers` in the run message: a dry run answers every fetch). A fetch a
// rule takes is captured (method, URL, headers, body as they would have been sent) for the
// caller, and never leaves the host.

const { isUtf8 } = require('buffer');

const CAPTURE_MAX_BYTES = 64 * 1024;

function compileRule(raw) {
  if (!raw || typeof raw !== 'object') return null;
  const rule = {
    tag: String(raw.tag || 'answer'),
    status: Number.isInteger(raw.status) && raw.status >= 200 && raw.status <= 599 ? raw.status : 200,
    headers: Object.entries(raw.headers || { 'content-type': 'application/json' }).map(([k, v]) => [String(k).toLowerCase(), String(v)]),
    body: raw.body === undefined || raw.body === null ? '{}' : String(raw.body),
  };
  if (typeof raw.prefix === 'string') {
    let u;
    try { u = new URL(raw.prefix); } catch (e) { return null; }
    rule.origin = u.origin;
    rule.path = u.pathname;
    return rule;
  }
  if (typeof raw.pattern === 'string' && raw.pattern) {
    const escaped = raw.pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
    rule.regex = new RegExp(`^${escaped.join('.*')}$`);
    return rule;
  }
  return null;
}

function compileRules(list) {
  return (Array.isArray(list) ? list : []).map(compileRule).filter(Boolean);
}

function parseRules(text) {
  if (!text) return [];
  try { return compileRules(JSON.parse(text)); } catch (e) { return []; }
}

function ruleTakes(rule, url) {
  if (rule.regex) return rule.regex.test(url.origin + url.pathname + url.search);
  return url.origin === rule.origin && url.pathname.startsWith(rule.path);
}

class FetchAnswers {
  constructor(standing) {
    this.standing = standing || [];
    this.perCall = new Map(); // JSON text of a call's rules -> compiled (calls repeat them)
  }

  // The compiled rules of one run message's `answers` (an array, or absent).
  forCall(raw) {
    if (!Array.isArray(raw) || !raw.length) return [];
    const key = JSON.stringify(raw);
    let rules = this.perCall.get(key);
    if (!rules) {
      if (this.perCall.size > 100) this.perCall.clear();
      rules = compileRules(raw);
      this.perCall.set(key, rules);
    }
    return rules;
  }

  // The first rule taking `href` (the call's own first, then the standing ones), or null.
  match(href, callRules) {
    if (!this.standing.length && !(callRules && callRules.length)) return null;
    let url;
    try { url = new URL(String(href)); } catch (e) { return null; }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    for (const rule of callRules || []) if (ruleTakes(rule, url)) return rule;
    for (const rule of this.standing) if (ruleTakes(rule, url)) return rule;
    return null;
  }
}

// What the request would have sent (`req` from egress's prepareRequest), capped in size.
function capture(rule, req) {
  const body = req.body || Buffer.alloc(0);
  let kept = body.subarray(0, CAPTURE_MAX_BYTES);
  // A cut inside a UTF-8 sequence is not binary: back off to the character boundary.
  for (let back = 1; back <= 3 && kept.length < body.length && !isUtf8(kept); back++) {
    if (isUtf8(body.subarray(0, CAPTURE_MAX_BYTES - back))) kept = body.subarray(0, CAPTURE_MAX_BYTES - back);
  }
  const binary = !isUtf8(kept);
  return {
    tag: rule.tag,
    at: new Date().toISOString(),
    method: req.method,
    url: req.url.href,
    headers: Object.entries(req.headers),
    body: kept.toString(binary ? 'base64' : 'utf8'),
    bodyEnc: binary ? 'base64' : 'utf8',
    size: body.length,
    truncated: body.length > kept.length,
  };
}

// The fetch response of a rule (the shape Egress.answer gives).
function response(rule, url) {
  return { status: rule.status, statusText: rule.status === 200 ? 'OK' : '', headers: rule.headers, url: url.href, redirected: false, text: rule.body };
}

module.exports = { FetchAnswers, parseRules, compileRules, capture, response, CAPTURE_MAX_BYTES };
