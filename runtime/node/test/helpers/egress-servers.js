'use strict';
// Local stand-ins for the egress tests: an HTTP server that records every connection and
// request and can hold requests open, and a DNS server that answers A queries from a table
// (or stays silent) and records every query it receives.
const http = require('http');
const dgram = require('dgram');

// Routes: /fast -> 200 "ok"; /hang... -> held until release(); /partial -> headers and a first
// chunk, then held; /redirect?to=URL -> 302 to URL. Listens on :: (dual stack) when it can,
// so an IPv4-mapped or IPv6 loopback address that got through would be seen too.
async function recordingServer() {
  const connections = [];
  const requests = [];
  const held = new Set();
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    requests.push({ path: u.pathname, host: req.headers.host, at: Date.now() });
    if (u.pathname === '/fast') { res.end('ok'); return; }
    if (u.pathname === '/redirect') { res.writeHead(302, { location: u.searchParams.get('to') }); res.end(); return; }
    if (u.pathname === '/partial') { res.writeHead(200, { 'content-length': '1000' }); res.write('x'.repeat(10)); }
    held.add(res);
    res.on('close', () => held.delete(res));
  });
  server.keepAliveTimeout = 30000;
  server.on('connection', (socket) => {
    const c = { openedAt: Date.now(), closedAt: null };
    connections.push(c);
    socket.on('close', () => { c.closedAt = Date.now(); });
  });
  await new Promise((resolve) => {
    server.once('error', () => server.listen(0, '127.0.0.1', resolve));
    server.listen(0, '::', resolve);
  });
  const { port } = server.address();
  return {
    port,
    connections,
    requests,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    seen: (path) => requests.filter((r) => r.path === path).length,
    open: () => connections.filter((c) => c.closedAt === null).length,
    release: () => { for (const res of held) res.end('late'); },
    close: () => new Promise((resolve) => { for (const res of held) res.destroy(); server.closeAllConnections(); server.close(resolve); }),
  };
}

function readName(buf, offset) {
  const labels = [];
  let i = offset;
  while (buf[i] !== 0) { labels.push(buf.subarray(i + 1, i + 1 + buf[i]).toString()); i += buf[i] + 1; }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

// records: name -> array of IPv4 addresses, or 'silent' (never answered). Other names: NXDOMAIN.
// AAAA queries of a known name get an empty answer (NODATA).
async function dnsServer(records) {
  const queries = [];
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    queries.push({ name, qtype, at: Date.now() });
    const known = records[name];
    if (known === 'silent') return;
    const answers = known && qtype === 1 ? known : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(known ? 0x8180 : 0x8183, 2); // response, recursion available; 3 = NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const rrs = answers.map((ip) => {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(1, 2); // A
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((b, k) => { rr[12 + k] = Number(b); });
      return rr;
    });
    socket.send(Buffer.concat([header, msg.subarray(12, end + 4), ...rrs]), rinfo.port, rinfo.address);
  });
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { server: `127.0.0.1:${socket.address().port}`, queries, close: () => new Promise((r) => socket.close(r)) };
}

// Waits until cond() is true, polling; fails after ms.
async function until(cond, ms = 3000, what = 'condition') {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = { recordingServer, dnsServer, until, sleep };
