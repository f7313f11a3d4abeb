'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { EgressPolicy, redactUrl } = require('../lib/egress');
const { embeddedIPv4 } = require('../lib/egress-policy');

const DENIED = [
  // IPv4 special-purpose ranges
  '127.0.0.1', '127.255.255.254', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
  '100.64.0.1', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255', '198.18.0.1',
  '192.0.0.1', '192.0.2.1', '192.88.99.1', '198.51.100.1', '203.0.113.1',
  // IPv6 outside global unicast, and special blocks inside it
  '::', '::1', 'fc00::1', 'fd12::1', 'fe80::1', 'fe80::1%eth0', 'fec0::1', 'ff02::1', '100::1', '5f00::1',
  '64:ff9b:1::a00:1', '2001:db8::1', '3fff::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:2::1', '2001:10::1',
  // IPv4 carried in IPv6: mapped (dotted and hex), translated, compatible, NAT64, 6to4
  '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:a9fe:a9fe', '[::ffff:169.254.169.254]',
  '::ffff:0:127.0.0.1', '::ffff:0:a00:1', '::127.0.0.1', '::7f00:1', '::10.0.0.1', '::a9fe:a9fe',
  '64:ff9b::127.0.0.1', '64:ff9b::a9fe:a9fe', '64:ff9b::a00:1', '2002:7f00:1::', '2002:a00:1:1::1', '2002:c0a8:101::1',
  '0:0:0:0:0:ffff:7f00:1', '0000:0000:0000:0000:0000:FFFF:7F00:0001',
];
const ALLOWED = [
  '8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001::200e',
  '::ffff:8.8.8.8', '::ffff:808:808', '64:ff9b::808:808', '2002:808:808::1', '::ffff:0:808:808',
];

test('denies private, loopback, link-local, reserved and every IPv6 form that carries one', () => {
  const p = new EgressPolicy('');
  for (const a of DENIED) assert.ok(p.checkAddress(a), `${a} should be denied`);
  for (const a of ALLOWED) assert.strictEqual(p.checkAddress(a), null, `${a} should be allowed`);
  assert.match(p.checkAddress('not-an-ip'), /unparseable/);
});

test('unwraps the IPv4 address of mapped, translated, compatible, NAT64 and 6to4 forms', () => {
  assert.strictEqual(embeddedIPv4('::ffff:7f00:1'), '127.0.0.1');
  assert.strictEqual(embeddedIPv4('::ffff:0:a9fe:a9fe'), '169.254.169.254');
  assert.strictEqual(embeddedIPv4('::a00:1'), '10.0.0.1');
  assert.strictEqual(embeddedIPv4('64:ff9b::c0a8:101'), '192.168.1.1');
  assert.strictEqual(embeddedIPv4('2002:c0a8:101:5::1'), '192.168.1.1');
  assert.strictEqual(embeddedIPv4('2606:4700::1'), null);
  assert.match(new EgressPolicy('').checkAddress('2002:a00:1::1'), /IPv4 10\.0\.0\.1/);
});

test('allowlist: IPv4 and IPv6 addresses and CIDRs (also in wrapped forms), host names, suffixes', () => {
  const p = new EgressPolicy('127.0.0.1, 10.0.0.0/8 ,fd00::/8,[::1],localhost,*.internal.test,Mock.Local.');
  assert.strictEqual(p.checkAddress('127.0.0.1'), null);
  assert.strictEqual(p.checkAddress('::ffff:127.0.0.1'), null);
  assert.ok(p.checkAddress('127.0.0.2'));
  assert.strictEqual(p.checkAddress('10.9.9.9'), null);
  assert.strictEqual(p.checkAddress('64:ff9b::a09:909'), null);
  assert.strictEqual(p.checkAddress('fd12:3456::1'), null);
  assert.ok(p.checkAddress('fc00::1'));
  assert.strictEqual(p.checkAddress('::1'), null);
  assert.ok(p.checkAddress('192.168.0.1'));
  assert.ok(p.hostAllowed('localhost'));
  assert.ok(p.hostAllowed('LOCALHOST.'));
  assert.ok(p.hostAllowed('mock.local'));
  assert.ok(p.hostAllowed('api.internal.test'));
  assert.ok(!p.hostAllowed('internal.test.evil.com'));
  assert.ok(!p.hostAllowed('evilinternal.test'));
});

test('malformed allowlist CIDRs do not allow everything', () => {
  for (const spec of ['10.0.0.0/', '0.0.0.0/x', '10.0.0.0/33', '::/129', '10.0.0.0/8/8']) {
    const p = new EgressPolicy(spec);
    assert.ok(p.checkAddress('192.168.1.1'), `${spec} must not allow 192.168.1.1`);
    assert.ok(p.checkAddress('::1'), `${spec} must not allow ::1`);
  }
});

test('trace URLs drop userinfo and secret-looking query values', () => {
  const u = redactUrl('https://user:pw@api.test/x?api_key=s1&token=s2&page=2');
  assert.ok(!u.includes('pw') && !u.includes('s1') && !u.includes('s2'));
  assert.ok(u.includes('page=2'));
});
