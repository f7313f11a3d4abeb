// Demo destination function: posts every track event as JSON to the configured endpoint.
async function onTrack(event, settings) {
  let response;
  try {
    response = await fetch(settings.endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Basic ${btoa((settings.apiKey || '') + ':')}`
      },
      body: JSON.stringify(event)
    });
  } catch (error) {
    throw new RetryError(error.message);
  }
  if (response.status >= 500 || response.status === 429) {
    throw new RetryError(`Failed with ${response.status}`);
  }
  console.log(`delivered ${event.event} with status ${response.status}`);
  return { status: response.status };
}

async function onIdentify(event, settings) {
  throw new EventNotSupported('identify is not supported');
}
