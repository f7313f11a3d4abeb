'use strict';
// Egress policy (SSRF protection): which addresses a function's fetch may reach. Ranges are
// matched with net.BlockList; IPv6 forms that carry an IPv4 address are judged by that address.
const net = require('net');

function blockList(cidrs, family) {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address, bits] = cidr.split('/');
    list.addSubnet(address, Number(bits), family);
  }
  return list;
}

// IANA special-purpose IPv4 blocks plus multicast and reserved (240/4 includes broadcast).
const DENY_V4 = blockList([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
  '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
  '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
], 'ipv4');

// IPv6: only global unicast (2000::/3) is reachable, which leaves out ::1, ::, fc00::/7,
// fe80::/10, fec0::/10, ff00::/8, 100::/64, 64:ff9b:1::/48 (local-use NAT64), 5f00::/16...
const GLOBAL_V6 = blockList(['2000::/3'], 'ipv6');
// ...and these special-purpose blocks inside it: IETF protocol assignments (Teredo 2001::/32,
// benchmarking, ORCHID), documentation.
const DENY_V6 = blockList(['2001::/23', '2001:db8::/32', '3fff::/20'], 'ipv6');

// IPv6 prefixes whose addresses embed an IPv4 address, and the index of the 16-bit group
// where it starts. Checked only against IPv6 addresses: a BlockList also matches a plain
// IPv4 address against ::ffff:0:0/96.
const WRAPS = [
  ['::ffff:0:0/96', 6], // IPv4-mapped
  ['::ffff:0:0:0/96', 6], // IPv4-translated (SIIT)
  ['::/96', 6], // IPv4-compatible (deprecated); also :: and ::1, which unwrap into 0/8
  ['64:ff9b::/96', 6], // NAT64 well-known prefix
  ['2002::/16', 1], // 6to4
].map(([cidr, at]) => [blockList([cidr], 'ipv6'), at]);

// {address, family} without brackets or zone id ("fe80::1%eth0": a BlockList does not match
// an address that has one), or null when it is not an IP address.
function parseAddress(raw) {
  let address = String(raw).replace(/^\[|\]$/g, '');
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  const family = net.isIP(address);
  return family ? { address, family: family === 6 ? 'ipv6' : 'ipv4' } : null;
}

// The eight 16-bit groups of an IPv6 address. The WHATWG URL serialiser gives the canonical
// form (hex groups, dotted quads converted, the longest zero run as "::").
function ipv6Groups(address) {
  const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const [head, tail] = canonical.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array(8 - left.length - right.length).fill('0');
  return left.concat(zeros, right).map((g) => parseInt(g, 16));
}

// The IPv4 address carried by an IPv6 address (as text), or null.
function embeddedIPv4(address) {
  for (const [prefix, at] of WRAPS) {
    if (!prefix.check(address, 'ipv6')) continue;
    const g = ipv6Groups(address);
    return `${g[at] >> 8}.${g[at] & 255}.${g[at + 1] >> 8}.${g[at + 1] & 255}`;
  }
  return null;
}

function publicAddress(address, family) {
  if (family === 'ipv4') return !DENY_V4.check(address, 'ipv4');
  return GLOBAL_V6.check(address, 'ipv6') && !DENY_V6.check(address, 'ipv6');
}

// "10.0.0.0/8", "fd00::/8", "[::1]", "127.0.0.1" -> {address, family, bits}, else null.
function parseCidr(item) {
  const [addressText, bitsText, extra] = item.split('/');
  const parsed = parseAddress(addressText);
  if (!parsed || extra !== undefined) return null;
  const max = parsed.family === 'ipv4' ? 32 : 128;
  if (bitsText === undefined) return Object.assign(parsed, { bits: max });
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  return bits <= max ? Object.assign(parsed, { bits }) : null;
}

class EgressPolicy {
  // allowSpec: FUNCTIONS_EGRESS_ALLOW, comma-separated host names, *.suffix, IPs and CIDRs.
  constructor(allowSpec) {
    this.allow = new net.BlockList();
    this.allowHosts = new Set();
    this.allowSuffixes = [];
    for (let item of String(allowSpec || '').split(',')) {
      item = item.trim().toLowerCase();
      if (!item) continue;
      const cidr = parseCidr(item);
      if (cidr) this.allow.addSubnet(cidr.address, cidr.bits, cidr.family);
      else if (item.startsWith('*.')) this.allowSuffixes.push(item.slice(1));
      else this.allowHosts.add(item.replace(/\.$/, ''));
    }
  }

  // An allowed host name skips the address check (an operator's internal endpoint).
  hostAllowed(hostname) {
    const h = String(hostname).toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
    if (this.allowHosts.has(h)) return true;
    return this.allowSuffixes.some((s) => h.endsWith(s));
  }

  // Returns null when the address may be contacted, else the reason it may not.
  checkAddress(raw) {
    const parsed = parseAddress(raw);
    if (!parsed) return `unparseable address ${raw}`;
    const { address, family } = parsed;
    const inner = family === 'ipv6' ? embeddedIPv4(address) : null;
    if (this.allow.check(address, family) || (inner && this.allow.check(inner, 'ipv4'))) return null;
    if (inner) {
      return publicAddress(inner, 'ipv4') ? null : `${raw} (IPv4 ${inner}) is in a private, loopback, link-local or reserved range`;
    }
    return publicAddress(address, family) ? null : `${raw} is in a private, loopback, link-local or reserved range`;
  }
}

module.exports = { EgressPolicy, embeddedIPv4, parseAddress };
