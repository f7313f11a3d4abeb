'use strict';
// Memory accounting beyond isolated-vm's per-isolate `memoryLimit`, which lets one big
// allocation through (its near-heap-limit callback lends an isolate up to 1 GB more so that
// V8 does not abort) and only stops the isolate at its next full GC.
//
// * After a call that used CPU (>= CHECK_CPU_NS since the isolate's last reading) the host
//   reads the isolate's heap + ArrayBuffer bytes; over the function's limit (above what the
//   platform's own bundles use) the isolate is disposed and the call fails with MemoryLimit,
//   so module-scope state cannot keep more than the limit across calls. Cheap calls skip the
//   reading: allocating needs CPU, so what they can add unseen is a few MB.
// * Warm isolates are bounded in bytes (their last reading), not only in count.
// * The host's resident memory is read every watchdog tick. Past PRESSURE of the ceiling idle
//   warm isolates are evicted, largest first; past KILL the running call that is the likely
//   cause (most CPU in the last tick) is killed with MemoryLimit; past the ceiling itself the
//   host aborts, charging that call (sandbox.py replays the others).
const MB = 1024 * 1024;
const CHECK_CPU_NS = 2_000_000n;
const PRESSURE = 0.75;
const KILL = 0.9;
const KILL_COOLDOWN_MS = 100; // let the memory of a killed isolate go before killing again
// A call stopped at its deadline counts as out of memory when the host grew by NEAR_LIMIT of a
// function's limit during it while its isolate ran BUSY of the time (see nearLimitMb).
const NEAR_LIMIT = 0.5;
const BUSY = 0.1;

class MemoryGuard {
  constructor(config, { warm, running, stuck, kill, crash, rss }) {
    this.limitBytes = config.memoryMb * MB;
    this.ceiling = config.hostMemoryMb * MB;
    this.warmBudget = config.warmMemoryMb * MB;
    this.warm = warm; // Map key -> Entry (LRU order)
    this.running = running; // Set of calls in progress
    this.stuck = stuck; // Set of {call, entry}: killed calls whose isolate has not stopped
    this.kill = kill;
    this.crash = crash;
    this.rss = rss || (() => process.memoryUsage.rss());
    this.lastKill = null; // {call, entry, at}
    this.lastRss = this.rss(); // the reading of the last tick (a call's start is stamped with it)
  }

  // The bytes an isolate holds now (heap in use + ArrayBuffers); the isolate must be idle.
  static readSync(isolate) {
    const h = isolate.getHeapStatisticsSync();
    return h.used_heap_size + h.externally_allocated_size;
  }

  static async read(isolate) {
    const h = await isolate.getHeapStatistics();
    return h.used_heap_size + h.externally_allocated_size;
  }

  // After a call: true when the entry's isolate holds more than the function may.
  async overLimit(entry, cpuNs) {
    entry.cpuSinceCheck = (entry.cpuSinceCheck || 0n) + cpuNs;
    const iso = entry.isolate;
    if (entry.cpuSinceCheck < CHECK_CPU_NS || !iso || iso.isDisposed) return false;
    entry.cpuSinceCheck = 0n;
    let bytes;
    try { bytes = await MemoryGuard.read(iso); } catch (e) { return false; }
    entry.bytes = bytes;
    return bytes - (entry.baseline || 0) > this.limitBytes;
  }

  // Warm isolates over their byte budget: the least recently used go first.
  warmBytes() {
    let total = 0;
    for (const e of this.warm.values()) if (e.isolate) total += e.bytes || 0;
    return total;
  }

  trimWarm(evict) {
    let total = this.warmBytes();
    for (const e of this.warm.values()) {
      if (total <= this.warmBudget) return;
      if (e.current || !e.isolate) continue;
      total -= e.bytes || 0;
      evict(e);
    }
  }

  // A call at its deadline: the MB the host grew by during it when that is most of a
  // function's limit and its isolate was running (not waiting) most of the time, else 0.
  // Such a call was filling memory towards V8's fatal out-of-memory error, which a loaded box
  // reaches only after the deadline: the call is reported as MemoryLimit (and a strike), not
  // as a Timeout the pipeline would retry into the same crash. The isolate cannot be read
  // while it runs, so the host's resident memory stands in for it.
  nearLimitMb(call, now) {
    const entry = call.entry;
    const iso = entry && entry.isolate;
    if (!iso || call.rssStart === undefined) return 0;
    const grown = this.rss() - Math.min(call.rssStart, call.rssMin === undefined ? Infinity : call.rssMin);
    if (grown < NEAR_LIMIT * this.limitBytes) return 0;
    let ranMs;
    try { ranMs = Number(iso.cpuTime - (entry.lastCpu || 0n)) / 1e6; } catch (e) { return 0; }
    if (ranMs < BUSY * (now - call.startedAt)) return 0;
    return Math.round(grown / MB);
  }

  // Called every watchdog tick.
  tick(now, evict) {
    const rss = this.rss();
    this.lastRss = rss;
    // The lowest reading during each call: a disposed isolate's memory is released some time
    // after the dispose, so the reading at a call's start may still hold an earlier call's.
    for (const call of this.running) if (!(call.rssMin <= rss)) call.rssMin = rss;
    if (rss < this.ceiling * PRESSURE) return;
    // Idle isolates first: largest first, a few per tick.
    const idle = Array.from(this.warm.values()).filter((e) => e.isolate && !e.current).sort((a, b) => (b.bytes || 0) - (a.bytes || 0));
    for (const e of idle.slice(0, 8)) evict(e);
    const suspect = this.suspect();
    if (rss >= this.ceiling) {
      const culprit = suspect || this.lastKill || Array.from(this.stuck)[0] || null;
      this.crash('memory', `the sandbox host's memory (${Math.round(rss / MB)} MB) passed its ceiling of ${Math.round(this.ceiling / MB)} MB`,
        culprit && culprit.entry, culprit && culprit.call);
      return;
    }
    if (rss >= this.ceiling * KILL && suspect && !(this.lastKill && now - this.lastKill.at < KILL_COOLDOWN_MS)) {
      suspect.call.memoryKilled = Math.round(rss / MB);
      this.lastKill = { call: suspect.call, entry: suspect.entry, at: now };
      this.kill(suspect.call);
    }
  }

  // The running call whose isolate used the most CPU since the last tick (or since its
  // reading before the call): allocating needs CPU, idle or waiting calls do not grow.
  suspect() {
    let best = null;
    let bestCpu = -1n;
    for (const call of this.running) {
      const iso = call.entry && call.entry.isolate;
      if (!iso || call.timedOut || call.memoryKilled) continue;
      let cpu;
      try { cpu = iso.cpuTime; } catch (e) { continue; }
      const prev = call.cpuSeen !== undefined ? call.cpuSeen : (call.entry.lastCpu || 0n);
      call.cpuSeen = cpu;
      if (cpu - prev > bestCpu) { bestCpu = cpu - prev; best = { call, entry: call.entry }; }
    }
    return best;
  }
}

module.exports = { MemoryGuard, MB };
