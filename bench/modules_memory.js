'use strict';
// Memory each preinstalled-library bundle adds to an isolate (docs/functions.md).
// Usage: node --no-node-snapshot --expose-gc bench/modules_memory.js [--json]
// Loads what the host loads for a function naming the library (shim, buffer, url, the
// Node-compatible layer, the bundle), makes one client where that is what functions do
// first, collects garbage inside the isolate and reads V8's heap statistics. The figure is
// the used heap over that of an isolate with the shim alone. (--expose-gc is for this
// measurement only: the sandbox host never runs with it.)
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const NODE_DIR = path.join(__dirname, '..', 'runtime', 'node');
const ivm = require(path.join(NODE_DIR, 'node_modules', 'isolated-vm'));
const modules = require(path.join(NODE_DIR, 'lib', 'modules'));
const limits = require(path.join(NODE_DIR, 'lib', 'limits'));

const src = (name) => fs.readFileSync(path.join(NODE_DIR, 'dist', `${name}.js`), 'utf8'); // dist/shim.js too

const CASES = {
  'node (the layer alone)': [['node'], ''],
  https: [['node', 'https'], ''],
  zlib: [['node', 'zlib'], "zlib.gunzipSync(zlib.gzipSync('x'))"],
  FormData: [['node', 'formdata'], "new FormData().append('a', 'b')"],
  OAuth: [['node', 'oauth'], ''],
  jsonwebtoken: [['node', 'jsonwebtoken'], ''],
  libphonenumberjslib: [['node', 'libphonenumber'], "libphonenumberjslib.libphonenumberjs.parsePhoneNumber('+12133734253')"],
  fetchretrylib: [['node', 'fetchretry'], ''],
  winstonlib: [['node', 'winston'], ''],
  'AWS (core)': [['node', 'aws'], ''],
  'AWS + S3 client': [['node', 'aws'], "new AWS.S3({ region: 'us-east-1' })"],
  'AWS + S3, Kinesis, SQS, DynamoDB clients': [['node', 'aws'], "['S3', 'Kinesis', 'SQS', 'DynamoDB'].forEach((s) => new AWS[s]({ region: 'us-east-1' }))"],
  stripe: [['node', 'stripe'], "stripe('sk_test')"],
  twilio: [['node', 'twilio'], "twilio('AC' + '0'.repeat(32), 't').messages"],
  sendgrid: [['node', 'sendgrid'], ''],
  mailchimplib: [['node', 'mailchimp'], ''],
  nodemailjet: [['node', 'mailjet'], "nodemailjet.nodemailjet.apiConnect('a', 'b')"],
  hubspotlib: [['node', 'hubspot'], "new hubspotlib.hubspot.Client({ accessToken: 't' }).crm.contacts"],
  jsforce: [['node', 'jsforce'], "new jsforce.Connection({})"],
  'google.cloud.storage': [['node', 'google'], "new google.cloud.storage.Storage({ projectId: 'p' })"],
  'google.cloud.bigquery': [['node', 'google'], "new google.cloud.bigquery.BigQuery({ projectId: 'p' })"],
};

function heapAfter(names, code) {
  const isolate = new ivm.Isolate({ memoryLimit: 128 });
  const context = isolate.createContextSync();
  const jail = context.global;
  const run = (n) => isolate.compileScriptSync(src(n), { filename: `${n}.js` }).runSync(context);
  // The shim's own bridges, as simple as the host's (no calls go out in this measurement).
  jail.setSync('__sb_limits', JSON.stringify(limits.config));
  jail.setSync('__sb_hash', new ivm.Callback((alg, key, parts, enc) => {
    const h = key ? crypto.createHmac(alg, Buffer.from(key[0], key[1])) : crypto.createHash(alg);
    for (const p of parts) h.update(Buffer.from(p[0], p[1]));
    return h.digest(enc);
  }));
  jail.setSync('__sb_random', new ivm.Callback((n) => crypto.randomBytes(n).toString('base64')));
  jail.setSync('__sb_uuid', new ivm.Callback(() => crypto.randomUUID()));
  for (const k of ['fetch', 'timer', 'clear', 'evend', 'evdone']) jail.setSync(`__sb_${k}`, new ivm.Callback(() => {}, { ignored: true }));
  try {
    run('shim');
    if (names.length) { run('buffer'); run('url'); }
    for (const n of names) {
      if (n === 'node') modules.installBridges(jail, (b) => { try { run(String(b)); return ''; } catch (e) { return e.message; } });
      run(n);
    }
    if (code) isolate.compileScriptSync(code).runSync(context);
    isolate.compileScriptSync('typeof gc === "function" && (gc(), gc())').runSync(context);
    return isolate.getHeapStatisticsSync().used_heap_size;
  } finally {
    isolate.dispose();
  }
}

function main() {
  const base = heapAfter([], '');
  const out = {};
  for (const [label, [names, code]] of Object.entries(CASES)) {
    out[label] = Math.round(((heapAfter(names, code) - base) / 1048576) * 100) / 100;
  }
  console.log('heap each bundle adds to an isolate (MB, after GC; the isolate limit is 128 MB)');
  for (const [k, v] of Object.entries(out)) console.log(`  ${k.padEnd(44)} ${v.toFixed(2).padStart(6)}`);
  if (process.argv.includes('--json')) console.log(JSON.stringify(out));
}

main();
