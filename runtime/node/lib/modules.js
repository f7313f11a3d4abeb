'use strict';
// Segment's preinstalled modules on the host side: which bundles a function's code needs
// (an identifier scan, like the LIBS table in lib/scripts.js), their sources (read from dist/ on
// first use, compiled once per host with a V8 code cache here), and the host bridges
// the Node-compatible layer uses (lib/nodebridge.js, plus `load` for bundles evaluated on
// first use, such as one AWS service client).
const fs = require('fs');
const path = require('path');
const ivm = require('isolated-vm');
const bridge = require('./nodebridge');

const DIST = path.join(__dirname, '..', 'dist');

// An identifier as code uses it: not a property (`x.stripe`), not part of a host name or
// path (`api.stripe.com`, `/stripe/`), not a URL scheme (`https://`).
const ident = (name) => new RegExp(`(?<![\\w$.\\-/@])(?:${name})(?![\\w$\\-]|\\.com\\b|:\\/\\/)`);

const word = (names) => new RegExp(`\\b(?:${names})\\b`);
// Node crypto functions the shim's `crypto` lacks: naming one loads the layer, which adds them.
const CRYPTO_EXTRAS = word('createSign|createVerify|createCipheriv|createDecipheriv|pbkdf2(?:Sync)?|scrypt(?:Sync)?'
  + '|generateKeyPair(?:Sync)?|generateKey(?:Sync)?|createPublicKey|createPrivateKey|createSecretKey|publicEncrypt'
  + '|privateDecrypt|privateEncrypt|publicDecrypt|hkdf(?:Sync)?|KeyObject|randomFill(?:Sync)?|getCiphers|getCurves');

// [bundle, test on the user's code]; every one needs the `node` bundle (loaded first).
const LIBRARIES = [
  ['https', ident('https')],
  ['zlib', ident('zlib')],
  ['formdata', ident('FormData')],
  ['oauth', ident('OAuth2?')],
  ['util', ident('util')],
  ['jsonwebtoken', ident('jsonwebtoken')],
  ['libphonenumber', ident('libphonenumberjslib')],
  ['fetchretry', ident('fetchretrylib')],
  ['winston', ident('winstonlib')],
  ['aws', ident('AWS')],
  ['stripe', ident('stripe')],
  ['twilio', ident('twilio')],
  ['sendgrid', ident('sendgrid')],
  ['mailchimp', ident('mailchimplib')],
  ['mailjet', ident('nodemailjet')],
  ['hubspot', ident('hubspotlib')],
  ['jsforce', ident('jsforce')],
  ['google', /(?<![\w$.\-/@])google\s*(?:\.\s*cloud\b|\[)|=\s*google\b(?!\s*[.[])/],
];
// Bundles of the LIBS table (lib/scripts.js) the layer itself needs.
const BASE = ['buffer', 'url'];
// Bundles the `load` bridge may evaluate during a call (parts of a library loaded on first
// use), and how many per isolate: each load runs synchronously on the host's thread.
const LAZY = /^(aws-[a-z0-9]+|google-storage|google-bigquery)$/;
const MAX_LAZY_LOADS = 40;

// Parts loaded on first use that the code visibly names are loaded with the rest instead
// (during the build, off the host's thread): `AWS.S3`, `new AWS.DynamoDB.DocumentClient`,
// `google.cloud.storage`.
const GOOGLE_PARTS = [['google-storage', /\b[Ss]torage\b/], ['google-bigquery', /\b(?:bigquery|BigQuery)\b/]];
let awsServices = null;
function awsParts(code) {
  if (!awsServices) {
    awsServices = new Map(JSON.parse(fs.readFileSync(path.join(DIST, 'gen', 'aws-services.json'), 'utf8')));
  }
  const out = new Set();
  for (const m of code.matchAll(/\bAWS\s*\.\s*([A-Z]\w*)/g)) if (awsServices.has(m[1])) out.add(awsServices.get(m[1]));
  return Array.from(out);
}

// Bundles (beyond the LIBS of lib/scripts.js) to evaluate for this code, in order.
function bundlesFor(code) {
  const out = LIBRARIES.filter(([, test]) => test.test(code)).map(([name]) => name);
  if (out.includes('aws')) out.push(...awsParts(code));
  if (out.includes('google')) out.push(...GOOGLE_PARTS.filter(([, test]) => test.test(code)).map(([name]) => name));
  if (out.length || CRYPTO_EXTRAS.test(code)) out.unshift('node');
  return out;
}

// Extra time a `check` gets when the code loads libraries: on a busy host the first load of
// the big ones (twilio, hubspot, jsforce, google) can take a few hundred milliseconds.
const LOAD_ALLOWANCE_MS = 2000;
function loadAllowanceMs(code) {
  return bundlesFor(code).length ? LOAD_ALLOWANCE_MS : 0;
}

// ---- evaluating bundles in an isolate, compiled once per host ----------------------------
// The V8 code cache is taken after a bundle's first run: compiling the same source again
// returns the script V8 just ran (its per-isolate compilation cache), so the cache holds
// every function that run compiled, not only the top level.
// A cache made at build time (lib/precache.js) is used until V8 rejects it.
const codeCache = new Map(); // bundle -> cachedData (ExternalCopy)
const tried = new Set();
function cachedData(name) {
  if (!codeCache.has(name) && !tried.has(name)) {
    tried.add(name);
    try {
      const b = fs.readFileSync(path.join(DIST, 'cache', `${name}.bin`));
      codeCache.set(name, new ivm.ExternalCopy(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    } catch (e) { /* none: made after the first run */ }
  }
  return codeCache.get(name);
}
function keep(name, script) {
  if (!script.cachedDataRejected) return true;
  codeCache.delete(name);
  return false;
}

function runBundleSync(isolate, context, name, timeoutMs) {
  const src = source(name);
  let cached = cachedData(name);
  const script = isolate.compileScriptSync(src, cached ? { filename: `${name}.js`, cachedData: cached } : { filename: `${name}.js` });
  if (cached && !keep(name, script)) cached = null;
  script.runSync(context, { timeout: timeoutMs });
  script.release();
  if (!cached) {
    const again = isolate.compileScriptSync(src, { filename: `${name}.js`, produceCachedData: true });
    if (again.cachedData) codeCache.set(name, again.cachedData);
    again.release();
  }
}

// The same, without blocking the host's event loop (the work runs on the isolate's thread).
async function runBundle(isolate, context, name, timeoutMs) {
  const src = source(name);
  let cached = cachedData(name);
  const script = await isolate.compileScript(src, cached ? { filename: `${name}.js`, cachedData: cached } : { filename: `${name}.js` });
  if (cached && !keep(name, script)) cached = null;
  await script.run(context, { timeout: Math.max(1, timeoutMs) });
  script.release();
  if (!cached) {
    const again = await isolate.compileScript(src, { filename: `${name}.js`, produceCachedData: true });
    if (again.cachedData && !codeCache.has(name)) codeCache.set(name, again.cachedData);
    again.release();
  }
}

let manifest = null;
const sources = new Map();
function source(name) {
  if (!manifest) manifest = JSON.parse(fs.readFileSync(path.join(DIST, 'manifest.json'), 'utf8'));
  if (!/^[a-z0-9-]+$/.test(name) || !Object.prototype.hasOwnProperty.call(manifest, name)) throw new Error(`unknown bundle ${name}`);
  let s = sources.get(name);
  if (s === undefined) {
    s = fs.readFileSync(path.join(DIST, `${name}.js`), 'utf8');
    sources.set(name, s);
  }
  return s;
}

// Sets the layer's bridges as __sb_node_* globals; the `node` bundle captures and deletes
// them before any user code runs. `load(name)` evaluates a bundle now and returns '' or
// the reason it could not.
// `paced` (nodebridge.pacedBridges) counts every operation as host work of the call in
// progress; the synchronous crypto bridge only serves where the isolate cannot wait for a
// turn (a bundle's top level). Without it (the build step's precache) nothing is counted.
function installBridges(jail, load, paced = bridge.UNPACED) {
  jail.setSync('__sb_node_crypto', new ivm.Callback(paced.cryptoDirect));
  jail.setSync('__sb_node_cryptoTurn', new ivm.Reference(paced.crypto));
  jail.setSync('__sb_node_cryptoSlow', new ivm.Reference(paced.cryptoSlow));
  jail.setSync('__sb_node_brotli', new ivm.Reference(paced.brotli));
  jail.setSync('__sb_node_load', new ivm.Callback(load));
}

module.exports = { bundlesFor, loadAllowanceMs, source, installBridges, runBundle, runBundleSync, BASE, LIBRARIES, LAZY, MAX_LAZY_LOADS };
