'use strict';
// Node's `url`: the legacy API (parse/format/resolve, from the npm `url` package) and the
// WHATWG URL/URLSearchParams the isolate already has.
const legacy = require('url/');
const host = require('./host');

const { URL, URLSearchParams } = host;

function fileURLToPath(u) {
  const url = typeof u === 'string' ? new URL(u) : u;
  if (url.protocol !== 'file:') {
    const e = new TypeError('The URL must be of scheme file');
    e.code = 'ERR_INVALID_URL_SCHEME';
    throw e;
  }
  return decodeURIComponent(url.pathname);
}
function pathToFileURL(p) {
  return new URL(`file://${encodeURI(String(p)).replace(/[?#]/g, encodeURIComponent)}`);
}
function format(u, options) {
  if (u && typeof u === 'object' && typeof u.href === 'string' && u.searchParams) {
    const o = Object.assign({ auth: true, fragment: true, search: true, unicode: false }, options);
    const c = new URL(u.href);
    if (!o.auth) { c.username = ''; c.password = ''; }
    if (!o.fragment) c.hash = '';
    if (!o.search) c.search = '';
    return c.href;
  }
  return legacy.format(u);
}
function urlToHttpOptions(u) {
  const o = {
    protocol: u.protocol,
    hostname: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
    hash: u.hash,
    search: u.search,
    pathname: u.pathname,
    path: `${u.pathname || ''}${u.search || ''}`,
    href: u.href,
  };
  if (u.port !== '') o.port = Number(u.port);
  if (u.username || u.password) o.auth = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`;
  return o;
}

module.exports = Object.assign({}, legacy, {
  URL,
  URLSearchParams,
  format,
  fileURLToPath,
  pathToFileURL,
  urlToHttpOptions,
  domainToASCII: (d) => { try { return new URL(`http://${d}`).hostname; } catch (e) { return ''; } },
  domainToUnicode: (d) => String(d),
});
