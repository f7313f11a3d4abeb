// Sends a track and an identify with Segment's unmodified Node client to HOST, then flushes.
const { Analytics } = require('@segment/analytics-node');

async function main() {
  const analytics = new Analytics({ writeKey: process.env.WRITE_KEY, host: process.env.HOST, flushAt: 2 });
  analytics.on('error', (err) => { console.error('analytics error', err); process.exitCode = 1; });
  analytics.track({ userId: 'node-user', event: 'Node Signup', properties: { plan: 'pro' } });
  analytics.identify({ userId: 'node-user', traits: { email: 'node@example.com' } });
  await analytics.closeAndFlush({ timeout: 20000 });
  console.log(JSON.stringify({ sent: 2 }));
}

main().catch((err) => { console.error(err); process.exit(1); });
