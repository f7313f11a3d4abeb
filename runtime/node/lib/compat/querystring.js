'use strict';
// Node's `querystring`: querystring-es3 plus escape/unescape and the aliases it lacks.
const qs = require('querystring-es3');

function escape(s) { return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`); }
function unescape(s) {
  try { return decodeURIComponent(s); } catch (e) { return unescapeBuffer(s); }
}
// Decodes valid %XX sequences one by one, leaving malformed ones as they are (like Node).
function unescapeBuffer(s) {
  return String(s).replace(/(%[0-9a-fA-F]{2})+/g, (m) => { try { return decodeURIComponent(m); } catch (e) { return m; } });
}

function stringify(obj, sep, eq, options) {
  const esc = (options && options.encodeURIComponent) || escape;
  sep = sep || '&';
  eq = eq || '=';
  if (obj === null || typeof obj !== 'object') return '';
  const prim = (v) => (typeof v === 'string' ? v : typeof v === 'number' && isFinite(v) ? String(v) : typeof v === 'bigint' ? String(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : '');
  const out = [];
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const ks = esc(prim(k)) + eq;
    if (Array.isArray(v)) for (const x of v) out.push(ks + esc(prim(x)));
    else out.push(ks + esc(prim(v)));
  }
  return out.join(sep);
}

function parse(str, sep, eq, options) {
  const r = qs.parse(str, sep, eq, options);
  const o = Object.create(null);
  for (const k of Object.keys(r)) o[k] = r[k];
  return o;
}

module.exports = { parse, decode: parse, stringify, encode: stringify, escape, unescape, unescapeBuffer };
