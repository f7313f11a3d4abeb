'use strict';
// The warm entries (an isolate kept per function instance, code and kind, LRU within
// CONFIG.maxWarm and the warm memory budget) and the host's memory guard over them.
const crypto = require('crypto');
const { config: CONFIG } = require('./limits');
const { MemoryGuard } = require('./memory');
const { Entry } = require('./entry');
const { running, stuck, kill, crashHost } = require('./watchdog');

const warm = new Map(); // key -> Entry (insertion order = LRU order)

const memory = new MemoryGuard(CONFIG, { warm, running, stuck, kill, crash: crashHost });

function evict(entry) {
  if (warm.get(entry.key) === entry) warm.delete(entry.key);
  entry.evicted = true;
  entry.enqueue(() => entry.dispose());
}

function lookupEntry(msg) {
  const hash = msg.code_hash || crypto.createHash('sha256').update(msg.code).digest('hex');
  if (!msg.instance_key) return new Entry(null, msg.code, msg.kind, null, hash);
  const key = `${msg.instance_key}\u0000${hash}\u0000${msg.kind}`;
  let entry = warm.get(key);
  if (entry) {
    warm.delete(key);
    warm.set(key, entry);
    return entry;
  }
  entry = new Entry(key, msg.code, msg.kind, msg.instance_key, hash);
  warm.set(key, entry);
  while (warm.size > CONFIG.maxWarm) evict(warm.values().next().value);
  return entry;
}

module.exports = { warm, memory, evict, lookupEntry };
