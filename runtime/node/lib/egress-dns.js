'use strict';
// Name resolution for fetch. Names are resolved with c-ares (dns.Resolver), not getaddrinfo:
// c-ares queries run on the event loop, so a slow or silent name server holds no libuv
// thread-pool thread (four hung getaddrinfo calls stall every lookup and file operation of the
// host), and a resolver can be cancelled, so no query is sent or retransmitted after the call
// that asked for it ended. Names the operator allowed (FUNCTIONS_EGRESS_ALLOW) use
// getaddrinfo, so /etc/hosts entries and container service names work for them; so does
// `localhost` (answered from the hosts file; its addresses are still checked).
const dns = require('dns');

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN']);

function resolveError(hostname, reason) {
  const code = reason && NOT_FOUND.has(reason.code) ? 'ENOTFOUND' : 'EAI_AGAIN';
  return Object.assign(new Error(`getaddrinfo ${code} ${hostname}`), { code });
}

function lookupAll(hostname) {
  return new Promise((resolve, reject) => {
    dns.lookup(hostname, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs.map((a) => a.address))));
  });
}

// resolve(hostname, {signal, trusted}) -> addresses (IPv4 first). servers: name servers
// ("127.0.0.1:5353") instead of /etc/resolv.conf's; timeoutMs and tries: per query.
function systemResolver({ servers = null, timeoutMs = 2000, tries = 2 } = {}) {
  return async function resolve(hostname, { signal = null, trusted = false } = {}) {
    const name = String(hostname).toLowerCase().replace(/\.$/, '');
    // RFC 6761: *.localhost is loopback, answered locally as the system answers `localhost`
    // (the hosts file), never by a name server.
    if (name === 'localhost' || name.endsWith('.localhost')) return lookupAll('localhost');
    if (trusted) return lookupAll(name);
    if (signal && signal.aborted) throw resolveError(name, null);
    const resolver = new dns.promises.Resolver({ timeout: timeoutMs, tries });
    if (servers) resolver.setServers(servers);
    const cancel = () => resolver.cancel();
    if (signal) signal.addEventListener('abort', cancel, { once: true });
    try {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
      const addrs = (v4.value || []).concat(v6.value || []);
      if (!addrs.length) throw resolveError(name, v4.reason);
      return addrs;
    } finally {
      if (signal) signal.removeEventListener('abort', cancel);
    }
  };
}

module.exports = { systemResolver };
