'use strict';
// Segment's preinstalled libraries, called the way a real function calls them, against a
// local server standing in for the vendor (each library's own endpoint override). The
// same snippet also runs under plain Node with the real packages, and the two request
// streams must be the same (bar clocks, signatures over them, and random boundaries).
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const { startHost, startVendor } = require('./support/host');
const { runPlain } = require('./support/plainnode');
const { verifySigV4 } = require('./support/sigv4');

const SOAP_LOGIN = (url) => `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result><metadataServerUrl>${url}/services/Soap/m/50.0/00D</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>false</sandbox><serverUrl>${url}/services/Soap/u/50.0/00D</serverUrl><sessionId>SESSION123</sessionId><userId>005x</userId><userInfo><organizationId>00Dx</organizationId></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>`;

function respond(req, vendorUrl) {
  const u = req.url;
  if (req.headers['x-amz-target']) return { body: { ShardId: 'shardId-000000000000', SequenceNumber: '1' }, headers: { 'content-type': 'application/x-amz-json-1.1' } };
  if (u.startsWith('/s3/')) return { body: '', headers: { etag: '"e1"' } };
  if (u === '/sqs/') return { body: '<SendMessageResponse><SendMessageResult><MessageId>m-1</MessageId><MD5OfMessageBody>5d41402abc4b2a76b9719d911017c592</MD5OfMessageBody></SendMessageResult></SendMessageResponse>', headers: { 'content-type': 'text/xml' } };
  if (u.startsWith('/v1/customers')) return { body: { id: 'cus_123', object: 'customer', email: 'a@example.com' } };
  if (u.includes('/Messages.json')) return { status: 201, body: { sid: 'SM123', status: 'queued' } };
  if (u === '/v3/mail/send') return { status: 202, body: '' };
  if (u.startsWith('/3.0/lists/')) return { body: { id: 'm1', status: 'subscribed' } };
  if (u.startsWith('/v3.1/send')) return { body: { Messages: [{ Status: 'success' }] } };
  if (u.startsWith('/crm/v3/objects/contacts')) return { status: 201, body: { id: '51', properties: { email: 'a@example.com' }, createdAt: '2024-01-01T00:00:00Z', updatedAt: '2024-01-01T00:00:00Z', archived: false } };
  if (u.startsWith('/services/Soap/u/')) return { body: SOAP_LOGIN(vendorUrl), headers: { 'content-type': 'text/xml' } };
  if (u.startsWith('/services/data/')) return { status: 201, body: { id: '003x', success: true, errors: [] } };
  if (u.startsWith('/upload/storage/v1/')) return { body: { kind: 'storage#object', name: 'f.json', bucket: 'bk' } };
  if (u.includes('/insertAll')) return { body: { kind: 'bigquery#tableDataInsertAllResponse' } };
  if (u === '/oauth/token') return { body: { access_token: 'at-1', token_type: 'bearer', expires_in: 3600 } };
  if (u.startsWith('/flaky')) return null;
  return { body: {} };
}

let host;
let vendor;
test.before(async () => {
  host = startHost();
  let url = '';
  let flaky = 0;
  vendor = await startVendor((req) => {
    if (req.url.startsWith('/flaky')) return ++flaky % 3 ? { status: 503, body: 'busy' } : { body: { ok: true } };
    return respond(req, url);
  });
  url = vendor.url;
  await host.ready;
});
test.after(async () => { host.stop(); await vendor.close(); });

const VOLATILE = new Set(['date', 'x-amz-date', 'connection', 'x-stripe-client-user-agent']);
function normalise(reqs) {
  return reqs.map((r) => {
    const headers = {};
    for (const [k, v] of Object.entries(r.headers)) {
      if (VOLATILE.has(k)) continue;
      headers[k] = k === 'authorization' && v.startsWith('AWS4-HMAC-SHA256') ? 'AWS4 (verified separately)' : v;
    }
    return { method: r.method, url: r.url, headers, body: r.body.toString('utf8') };
  });
}

// Runs `code` (VENDOR, PORT replaced) in the sandbox and then under plain Node; returns both
// results and both request lists.
async function both(code, settings) {
  const src = code.replace(/VENDOR/g, vendor.url).replace(/PORT/g, String(vendor.port));
  vendor.requests.length = 0;
  const full = await host.runFull(src, { type: 'track', event: 'E' }, { settings });
  const sandboxReqs = vendor.requests.splice(0);
  assert.strictEqual(full.result.status, 'success', JSON.stringify(full.result.error));
  const plain = await runPlain(src, { type: 'track', event: 'E' }, settings);
  const plainReqs = vendor.requests.splice(0);
  return { result: full.result.returned, trace: full.requests, plain, sandboxReqs, plainReqs };
}

function sameAsNode(r) {
  assert.deepStrictEqual(normalise(r.sandboxReqs), normalise(r.plainReqs));
  assert.deepStrictEqual(r.result, JSON.parse(JSON.stringify(r.plain)));
  assert.strictEqual(r.trace.length, r.sandboxReqs.length, 'every SDK request is in the request trace');
}

test('AWS: S3, Kinesis and SQS requests are SigV4-signed correctly and match plain Node', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const creds = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: settings.secret, region: 'us-east-1' };
    const s3 = new AWS.S3(Object.assign({ endpoint: 'VENDOR/s3', s3ForcePathStyle: true, signatureVersion: 'v4' }, creds));
    const put = await s3.putObject({ Bucket: 'bucket', Key: 'dir/event one.json', Body: JSON.stringify(event), ContentType: 'application/json' }).promise();
    const kinesis = new AWS.Kinesis(Object.assign({ endpoint: 'VENDOR' }, creds));
    const rec = await kinesis.putRecord({ StreamName: 'events', PartitionKey: 'u1', Data: JSON.stringify(event) }).promise();
    const sqs = new AWS.SQS(Object.assign({ endpoint: 'VENDOR/sqs/' }, creds));
    const msg = await sqs.sendMessage({ QueueUrl: 'VENDOR/sqs/', MessageBody: 'hello', MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }).promise().catch((e) => ({ err: e.code }));
    return { etag: put.ETag, seq: rec.SequenceNumber, msg: msg.MessageId || msg.err };
  }`, { secret: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' });
  assert.deepStrictEqual(r.result, { etag: '"e1"', seq: '1', msg: 'm-1' });
  const [put, kin, sqs] = r.sandboxReqs;
  assert.strictEqual(put.method, 'PUT');
  assert.strictEqual(put.url, '/s3/bucket/dir/event%20one.json');
  assert.deepStrictEqual(JSON.parse(put.body), { type: 'track', event: 'E' });
  assert.strictEqual(kin.headers['x-amz-target'], 'Kinesis_20131202.PutRecord');
  assert.strictEqual(Buffer.from(JSON.parse(kin.body).Data, 'base64').toString(), '{"type":"track","event":"E"}');
  assert.match(sqs.body.toString(), /Action=SendMessage&MessageAttribute\.1\.Name=k/);
  for (const [req, service] of [[put, 's3'], [kin, 'kinesis'], [sqs, 'sqs']]) {
    const v = verifySigV4(req, 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', { service, s3: service === 's3' });
    assert.ok(v.ok, `${service}: ${JSON.stringify(v)}`);
  }
  sameAsNode(r);
});

test('AWS: DynamoDB DocumentClient put', async () => {
  const r = await both(`async function onTrack(event) {
    const db = new AWS.DynamoDB.DocumentClient({ endpoint: 'VENDOR', region: 'eu-west-1', accessKeyId: 'A', secretAccessKey: 'S' });
    await db.put({ TableName: 'events', Item: { id: 'u1', n: 5, tags: ['a'] } }).promise();
    return 'ok';
  }`);
  assert.strictEqual(r.sandboxReqs[0].headers['x-amz-target'], 'DynamoDB_20120810.PutItem');
  assert.deepStrictEqual(JSON.parse(r.sandboxReqs[0].body).Item, { id: { S: 'u1' }, n: { N: '5' }, tags: { L: [{ S: 'a' }] } });
  sameAsNode(r);
});

test('stripe: customers.create through host/port/protocol', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const client = stripe(settings.apiKey, { host: '127.0.0.1', port: PORT, protocol: 'http', apiVersion: '2020-08-27', maxNetworkRetries: 0 });
    const c = await client.customers.create({ email: 'a@example.com', metadata: { segment: 'yes' } });
    return c.id;
  }`, { apiKey: 'sk_test_123' });
  assert.strictEqual(r.result, 'cus_123');
  const q = r.sandboxReqs[0];
  assert.strictEqual(q.url, '/v1/customers');
  assert.strictEqual(q.headers.authorization, 'Bearer sk_test_123');
  assert.strictEqual(q.body.toString(), 'email=a%40example.com&metadata[segment]=yes');
  sameAsNode(r);
});

test('twilio: messages.create with Basic auth and a form body', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const client = twilio(settings.sid, settings.token);
    client.api.baseUrl = 'VENDOR';
    const m = await client.messages.create({ to: '+15555550100', from: '+15555550101', body: 'Hi from Segment' });
    return m.sid;
  }`, { sid: 'AC' + 'a'.repeat(32), token: 'tok' });
  assert.strictEqual(r.result, 'SM123');
  const q = r.sandboxReqs[0];
  assert.strictEqual(q.url, `/2010-04-01/Accounts/AC${'a'.repeat(32)}/Messages.json`);
  assert.strictEqual(q.headers.authorization, `Basic ${Buffer.from(`AC${'a'.repeat(32)}:tok`).toString('base64')}`);
  assert.strictEqual(q.body.toString(), 'To=%2B15555550100&From=%2B15555550101&Body=Hi%20from%20Segment');
  sameAsNode(r);
});

test('sendgrid: mail.send through the client base URL', async () => {
  const r = await both(`async function onTrack(event, settings) {
    sendgrid.client.setApiKey(settings.key);
    sendgrid.client.setDefaultRequest('baseUrl', 'VENDOR');
    sendgrid.mail.setClient(sendgrid.client);
    const [res] = await sendgrid.mail.send({ to: 'to@example.com', from: 'from@example.com', subject: 'Hello', text: 'Body', html: '<b>Body</b>' });
    return res.statusCode;
  }`, { key: 'SG.abc' });
  assert.strictEqual(r.result, 202);
  const q = r.sandboxReqs[0];
  assert.strictEqual(q.headers.authorization, 'Bearer SG.abc');
  assert.deepStrictEqual(JSON.parse(q.body).personalizations, [{ to: [{ email: 'to@example.com' }] }]);
  sameAsNode(r);
});

test('mailchimp, mailjet and hubspot clients', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const mc = mailchimplib.mailchimp;
    mc.setConfig({ apiKey: settings.key, server: 'us1' });
    mc.basePath = 'VENDOR/3.0';
    const member = await mc.lists.addListMember('L1', { email_address: 'a@example.com', status: 'subscribed' });
    nodemailjet.nodemailjet.Request.protocol = 'http://';
    const mj = nodemailjet.nodemailjet.apiConnect('pub', 'priv', { config: { host: '127.0.0.1:PORT' } });
    const sent = await mj.post('send', { version: 'v3.1' }).request({ Messages: [{ From: { Email: 'a@example.com' }, To: [{ Email: 'b@example.com' }], Subject: 'Hi' }] });
    const hs = new hubspotlib.hubspot.Client({ accessToken: settings.token, basePath: 'VENDOR', numberOfApiCallRetries: 0 });
    const contact = await hs.crm.contacts.basicApi.create({ properties: { email: 'a@example.com' } });
    return { member: member.status, sent: sent.body.Messages[0].Status, contact: contact.id };
  }`, { key: 'k-us1', token: 'pat-1' });
  assert.deepStrictEqual(r.result, { member: 'subscribed', sent: 'success', contact: '51' });
  const [mc, mj, hs] = r.sandboxReqs;
  assert.strictEqual(mc.url, '/3.0/lists/L1/members');
  assert.strictEqual(mc.headers.authorization, `Basic ${Buffer.from('user:k-us1').toString('base64')}`);
  assert.strictEqual(mj.headers.authorization, `Basic ${Buffer.from('pub:priv').toString('base64')}`);
  assert.strictEqual(hs.headers.authorization, 'Bearer pat-1');
  sameAsNode(r);
});

test('jsforce: SOAP login through loginUrl, then a REST create', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const conn = new jsforce.Connection({ loginUrl: 'VENDOR', version: '50.0' });
    await conn.login(settings.user, settings.password);
    const res = await conn.sobject('Contact').create({ LastName: 'Doe', Email: 'a@example.com' });
    return res.id;
  }`, { user: 'u@example.com', password: 'pw' });
  assert.strictEqual(r.result, '003x');
  const [login, create] = r.sandboxReqs;
  assert.match(login.body.toString(), /<username>u@example.com<\/username><password>pw<\/password>/);
  assert.strictEqual(create.url, '/services/data/v50.0/sobjects/Contact');
  assert.strictEqual(create.headers.authorization, 'Bearer SESSION123');
  sameAsNode(r);
});

test('google.cloud storage and bigquery through apiEndpoint', async () => {
  const r = await both(`async function onTrack(event, settings) {
    const authClient = { getRequestHeaders: async () => ({ Authorization: 'Bearer ya29.token' }), getAccessToken: async () => ({ token: 'ya29.token' }),
      getCredentials: async () => ({}), getProjectId: async () => 'p1', request: async () => ({}) };
    const { Storage } = google.cloud.storage;
    const storage = new Storage({ projectId: 'p1', apiEndpoint: 'VENDOR', authClient: new (Object.getPrototypeOf(new Storage({ projectId: 'x' }).authClient).constructor)({ authClient }) });
    await storage.bucket('bk').file('f.json').save(JSON.stringify(event), { resumable: false, contentType: 'application/json', validation: false });
    const { BigQuery } = google.cloud.bigquery;
    const bq = new BigQuery({ projectId: 'p1', apiEndpoint: 'VENDOR', authClient: new (Object.getPrototypeOf(new Storage({ projectId: 'x' }).authClient).constructor)({ authClient }) });
    await bq.dataset('ds').table('t').insert([{ id: 'u1' }], { raw: false, createInsertId: false });
    return 'ok';
  }`);
  const [upload, insert] = r.sandboxReqs;
  assert.strictEqual(upload.method, 'POST');
  assert.match(upload.url, /^\/upload\/storage\/v1\/b\/bk\/o\?.*uploadType=multipart/);
  assert.strictEqual(upload.headers.authorization, 'Bearer ya29.token');
  assert.match(upload.body.toString(), /\{"type":"track","event":"E"\}/);
  assert.strictEqual(insert.url, '/bigquery/v2/projects/p1/datasets/ds/tables/t/insertAll?prettyPrint=false');
  assert.deepStrictEqual(JSON.parse(insert.body).rows, [{ json: { id: 'u1' } }]);
  assert.strictEqual(r.trace.length, 2);
  // The multipart boundary is random: compare everything but the upload's body. Node
  // streams that body chunked; the sandbox sends request bodies whole, with a length.
  const shape = (reqs) => normalise(reqs).map((q, i) => {
    if (i) return q;
    for (const h of ['content-type', 'content-length', 'transfer-encoding']) delete q.headers[h];
    return Object.assign(q, { body: '' });
  });
  assert.deepStrictEqual(shape(r.sandboxReqs), shape(r.plainReqs));
});

test('jsonwebtoken HS256 and RS256, libphonenumber, OAuth 1.0a signatures', async () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const pub = publicKey.export({ type: 'spki', format: 'pem' });
  vendor.requests.length = 0;
  const full = await host.runFull(`async function onTrack(event, settings) {
    const hs = jsonwebtoken.sign({ sub: 'u1', iat: 1700000000 }, 'shh', { algorithm: 'HS256' });
    const rs = jsonwebtoken.sign({ sub: 'u1' }, settings.priv, { algorithm: 'RS256', expiresIn: '1h' });
    const badSig = (() => { try { jsonwebtoken.verify(hs, 'wrong'); } catch (e) { return e.name + ': ' + e.message; } })();
    const lib = libphonenumberjslib.libphonenumberjs;
    const p = lib.parsePhoneNumber('(213) 373-4253', 'US');
    const oauth = new OAuth.OAuth('VENDOR/request', 'VENDOR/access', 'ckey', 'csecret', '1.0A', null, 'HMAC-SHA1');
    const body = await new Promise((resolve, reject) => oauth.post('VENDOR/statuses/update.json?include=1', 'tok', 'toksecret', { status: 'Hello Ladies + Gentlemen' }, (e, d) => (e ? reject(new Error(JSON.stringify(e))) : resolve(d))));
    return { hs, rs, rsValid: jsonwebtoken.verify(rs, settings.pub, { algorithms: ['RS256'] }).sub, badSig,
      e164: p.number, intl: p.formatInternational(), valid: p.isValid(), country: p.country, bad: lib.isValidPhoneNumber('+1 555'), body };
  }`.replace(/VENDOR/g, vendor.url), undefined, { settings: { priv, pub } });
  assert.strictEqual(full.result.status, 'success', JSON.stringify(full.result.error));
  const r = full.result.returned;
  const jwt = require('jsonwebtoken');
  assert.strictEqual(r.hs, jwt.sign({ sub: 'u1', iat: 1700000000 }, 'shh', { algorithm: 'HS256' }));
  assert.strictEqual(jwt.verify(r.rs, pub, { algorithms: ['RS256'] }).sub, 'u1');
  assert.strictEqual(r.rsValid, 'u1');
  assert.strictEqual(r.badSig, 'JsonWebTokenError: invalid signature');
  assert.deepStrictEqual([r.e164, r.intl, r.valid, r.country, r.bad], ['+12133734253', '+1 213 373 4253', true, 'US', false]);
  // OAuth 1.0a: recompute the HMAC-SHA1 signature from what the server received.
  const q = vendor.requests[0];
  const params = Object.fromEntries(q.headers.authorization.replace(/^OAuth /, '').split(',').map((kv) => {
    const [k, v] = kv.split('=');
    return [k.trim(), decodeURIComponent(v.replace(/"/g, ''))];
  }));
  const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const all = Object.entries(Object.assign({}, params, { include: '1', status: 'Hello Ladies + Gentlemen' })).filter(([k]) => k !== 'oauth_signature')
    .map(([k, v]) => [enc(k), enc(v)]).sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const base = ['POST', enc(`${vendor.url}/statuses/update.json`), enc(all)].join('&');
  const expected = crypto.createHmac('sha1', `${enc('csecret')}&${enc('toksecret')}`).update(base).digest('base64');
  assert.strictEqual(params.oauth_signature, expected);
  assert.strictEqual(q.body.toString(), 'status=Hello%20Ladies%20%2B%20Gentlemen');
  assert.strictEqual(r.body, '{}');
});

test('fetch-retry retries, FormData sends a multipart body, winston writes to the captured console', async () => {
  vendor.requests.length = 0;
  const full = await host.runFull(`async function onTrack() {
    const f = fetchretrylib.fetchretry(fetch, { retries: 3, retryDelay: 5, retryOn: [503] });
    const res = await f('VENDOR/flaky');
    const form = new FormData();
    form.append('field', 'value');
    form.append('file', Buffer.from('file-content'), { filename: 'a.txt', contentType: 'text/plain' });
    const up = await fetch('VENDOR/upload', { method: 'POST', body: form });
    const logger = new winstonlib.winston.Logger({ transports: [new winstonlib.winston.transports.Console()] });
    logger.info('event processed', { id: 7 });
    logger.error('it failed');
    return [res.status, await res.json(), up.status];
  }`.replace(/VENDOR/g, vendor.url));
  assert.strictEqual(full.result.status, 'success', JSON.stringify(full.result.error));
  assert.deepStrictEqual(full.result.returned, [200, { ok: true }, 200]);
  assert.deepStrictEqual(full.requests.map((t) => t.status), [503, 503, 200, 200]);
  const up = vendor.requests.find((q) => q.url === '/upload');
  const boundary = /^multipart\/form-data;\s*boundary=(.+)$/.exec(up.headers['content-type'])[1];
  const body = up.body.toString();
  assert.ok(body.includes(`--${boundary}\r\nContent-Disposition: form-data; name="field"\r\n\r\nvalue\r\n`), body);
  assert.ok(body.includes('Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nfile-content\r\n'), body);
  assert.ok(body.endsWith(`--${boundary}--\r\n`));
  assert.deepStrictEqual(full.result.logs.map((l) => [l.level, l.message]), [['log', 'info: event processed id=7'], ['error', 'error: it failed']]);
});

test('OAuth2 and util, as deployed Segment functions use them: a client-credentials token, promisified', async () => {
  vendor.requests.length = 0;
  const full = await host.runFull(`async function onTrack(event, settings) {
    const client = new OAuth2(settings.id, settings.secret, 'VENDOR', null, '/oauth/token', null);
    const getToken = util.promisify(client.getOAuthAccessToken.bind(client));
    const token = await cache.load('token', 60000, () => getToken('', { grant_type: 'client_credentials' }));
    return [token, util.format('%s=%d', 'n', 5), util.inspect({ a: [1] })];
  }`.replace(/VENDOR/g, vendor.url), undefined, { settings: { id: 'cid', secret: 'csec' } });
  assert.strictEqual(full.result.status, 'success', JSON.stringify(full.result.error));
  assert.deepStrictEqual(full.result.returned, ['at-1', 'n=5', '{ a: [ 1 ] }']);
  const q = vendor.requests[0];
  assert.strictEqual(q.url, '/oauth/token');
  assert.deepStrictEqual(Object.fromEntries(new URLSearchParams(q.body.toString())), { grant_type: 'client_credentials', code: '', client_id: 'cid', client_secret: 'csec' });
});
