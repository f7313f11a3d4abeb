'use strict';
// Does building isolates with heavy libraries slow other functions on the same host?
// Usage: node --no-node-snapshot bench/modules_neighbour.js [--json]
// For 4 s, one client keeps building fresh isolates for a function naming twilio, hubspotlib
// and jsforce (about 7 MB of bundles), while another calls a trivial warm function in a
// loop; prints the trivial calls' latency (host round trip) and how many builds ran.
const path = require('path');
const { startHost } = require(path.join(__dirname, '..', 'runtime', 'node', 'test', 'support', 'host.js'));

async function main() {
  const host = startHost();
  await host.ready;
  const trivial = 'async function onTrack() { return 1 }';
  const heavyCode = 'async function onTrack() { return typeof twilio + typeof hubspotlib + typeof jsforce }';
  try {
    for (let i = 0; i < 50; i++) await host.run(trivial, undefined, { key: 'warm' });
    await host.run(heavyCode); // code caches
    let stop = false;
    const heavy = (async () => {
      let n = 0;
      while (!stop) { await host.run(heavyCode); n++; }
      return n;
    })();
    const lat = [];
    const t0 = Date.now();
    while (Date.now() - t0 < 4000) {
      const t = process.hrtime.bigint();
      await host.run(trivial, undefined, { key: 'warm' });
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    stop = true;
    const builds = await heavy;
    lat.sort((a, b) => a - b);
    const pct = (p) => Math.round(lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] * 1000) / 1000;
    const out = { heavy_builds: builds, trivial_calls: lat.length, trivial_p50_ms: pct(0.5), trivial_p99_ms: pct(0.99), trivial_max_ms: pct(1) };
    console.log(`while ${builds} heavy builds ran: ${lat.length} trivial calls, p50 ${out.trivial_p50_ms} ms, p99 ${out.trivial_p99_ms} ms, max ${out.trivial_max_ms} ms`);
    if (process.argv.includes('--json')) console.log(JSON.stringify(out));
  } finally {
    host.stop();
  }
}

main();
