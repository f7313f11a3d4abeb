// No streams inside the isolate; sax only uses Stream for its optional SAXStream.
function Stream() {}
Stream.prototype.pipe = function () { throw new Error('streams are not available in functions'); };
module.exports = Stream;
module.exports.Stream = Stream;
