// Learn more about destination functions:
// docs/functions.md ("Destination functions") in this platform's repository.

/**
 * Handle a track event.
 *
 * @param {SegmentTrackEvent} event
 * @param {FunctionSettings} settings
 */
async function onTrack(event, settings) {
  const endpoint = settings.endpoint || 'https://example.com/collect';
  let response;

  try {
    response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${btoa((settings.apiKey || '') + ':')}`,
        'Content-Type': 'application/json'
      },
      body: JSON.stringify(event)
    });
  } catch (error) {
    // Network errors are temporary: retry the event later.
    throw new RetryError(error.message);
  }

  if (response.status >= 500 || response.status === 429) {
    // Temporary server errors and rate limits: retry the event later.
    throw new RetryError(`Failed with ${response.status}`);
  }
}

/** @param {SegmentIdentifyEvent} event @param {FunctionSettings} settings */
async function onIdentify(event, settings) {
  throw new EventNotSupported('identify is not supported');
}

/** @param {SegmentGroupEvent} event @param {FunctionSettings} settings */
async function onGroup(event, settings) {
  throw new EventNotSupported('group is not supported');
}

/** @param {SegmentPageEvent} event @param {FunctionSettings} settings */
async function onPage(event, settings) {
  throw new EventNotSupported('page is not supported');
}

/** @param {SegmentScreenEvent} event @param {FunctionSettings} settings */
async function onScreen(event, settings) {
  throw new EventNotSupported('screen is not supported');
}

/** @param {SegmentAliasEvent} event @param {FunctionSettings} settings */
async function onAlias(event, settings) {
  throw new EventNotSupported('alias is not supported');
}

/** @param {SegmentDeleteEvent} event @param {FunctionSettings} settings */
async function onDelete(event, settings) {
  throw new EventNotSupported('delete is not supported');
}
