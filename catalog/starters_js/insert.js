// Learn more about insert functions:
// docs/functions.md ("Insert functions") in this platform's repository.
// Each handler must return the event (modified or not) for it to continue;
// throw new DropEvent('reason') to drop it.

/**
 * @param {SegmentTrackEvent} event
 * @param {FunctionSettings} settings
 */
async function onTrack(event, settings) {
  // Example: enrich the event before it is delivered.
  // event.properties = { ...event.properties, enrichedAt: new Date().toISOString() };
  return event;
}

/** @param {SegmentIdentifyEvent} event @param {FunctionSettings} settings */
async function onIdentify(event, settings) {
  return event;
}

/** @param {SegmentGroupEvent} event @param {FunctionSettings} settings */
async function onGroup(event, settings) {
  return event;
}

/** @param {SegmentPageEvent} event @param {FunctionSettings} settings */
async function onPage(event, settings) {
  return event;
}

/** @param {SegmentScreenEvent} event @param {FunctionSettings} settings */
async function onScreen(event, settings) {
  return event;
}

/** @param {SegmentAliasEvent} event @param {FunctionSettings} settings */
async function onAlias(event, settings) {
  return event;
}

/** @param {SegmentDeleteEvent} event @param {FunctionSettings} settings */
async function onDelete(event, settings) {
  return event;
}
