// Learn more about source functions:
// docs/functions.md ("Source functions") in this platform's repository.

/**
 * Handle an incoming HTTP request and turn it into Segment events.
 *
 * @param {FunctionRequest} request - request.json(), request.text(), request.headers, request.url
 * @param {FunctionSettings} settings - this source's setting values
 */
async function onRequest(request, settings) {
  // request.json() is synchronous: it returns the parsed body.
  const body = request.json();

  // Read a header or a query parameter:
  // const signature = request.headers.get('X-Signature');
  // const timestamp = request.url.searchParams.get('timestamp');

  // Call an external API, retrying on temporary failures:
  // let response;
  // try {
  //   response = await fetch('https://example.com/api', {
  //     headers: { Authorization: `Basic ${btoa(settings.apiKey + ':')}` }
  //   });
  // } catch (error) {
  //   throw new RetryError(error.message);   // network error: retry later
  // }
  // if (response.status >= 500 || response.status === 429) {
  //   throw new RetryError(`Failed with ${response.status}`);
  // }

  Segment.track({
    event: body.event || 'Webhook Received',
    userId: body.userId,
    anonymousId: body.anonymousId || (body.userId ? undefined : 'anonymous'),
    properties: body.properties || body
  });

  // Other calls: Segment.identify({ userId, traits }), Segment.group({ userId, groupId, traits }),
  // Segment.page({ userId, name, properties }), Segment.screen(...), Segment.alias(...),
  // Segment.set({ collection: 'accounts', id: '123', properties: {} })
}
