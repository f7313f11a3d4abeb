// Demo source function: turns any JSON webhook into a Segment track event.
// Try: curl -X POST <webhook URL> -H 'Content-Type: application/json' \
//        -d '{"event": "Order Completed", "userId": "u-1", "properties": {"total": 42}}'
async function onRequest(request, settings) {
  const body = request.json();
  const items = Array.isArray(body) ? body : [body];
  for (const item of items) {
    Segment.track({
      event: item.event || settings.defaultEvent || 'Webhook Received',
      userId: item.userId,
      anonymousId: item.userId ? undefined : item.anonymousId || 'demo-anonymous',
      properties: item.properties || item
    });
  }
}
