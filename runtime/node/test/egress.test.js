'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { EgressPolicy, redactUrl, ipBytes } = require('../lib/egress');

test('denies private, loopback, link-local, CGNAT, multicast and wrapped forms', () => {
  const p = new EgressPolicy('');
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '240.0.0.1', '255.255.255.255', '198.18.0.1', '192.0.0.1', '::', '::1', 'fc00::1', 'fd12::1', 'fe80::1',
    'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe', '::ffff:10.0.0.1']) {
    assert.ok(p.checkAddress(a), `${a} should be denied`);
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.strictEqual(p.checkAddress(a), null, `${a} should be allowed`);
  }
});

test('allowlist by IP, CIDR and host name', () => {
  const p = new EgressPolicy('127.0.0.1, 10.0.0.0/8 ,localhost,*.internal.test');
  assert.strictEqual(p.checkAddress('127.0.0.1'), null);
  assert.ok(p.checkAddress('127.0.0.2'));
  assert.strictEqual(p.checkAddress('10.9.9.9'), null);
  assert.ok(p.hostAllowed('localhost'));
  assert.ok(p.hostAllowed('api.internal.test'));
  assert.ok(!p.hostAllowed('internal.test.evil.com'));
});

test('ip parsing', () => {
  assert.deepStrictEqual(Array.from(ipBytes('::ffff:1.2.3.4')).slice(10), [0xff, 0xff, 1, 2, 3, 4]);
  assert.strictEqual(ipBytes('1.2.3'), null);
});

test('trace URLs drop userinfo and secret-looking query values', () => {
  const u = redactUrl('https://user:pw@api.test/x?api_key=s1&token=s2&page=2');
  assert.ok(!u.includes('pw') && !u.includes('s1') && !u.includes('s2'));
  assert.ok(u.includes('page=2'));
});
