'use strict';
// A reporter for node --test that prints one line per test (not per
// suite): "ok - name", "not ok - name" with the error indented beneath, or
// "skip - name: reason".  test/t/077_console.pl turns each into a TAP test.

module.exports = async function* reporter(source) {
  for await (const event of source) {
    const d = event.data;
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || d.details?.type === 'suite') continue;
    const name = `${d.file ? require('path').basename(d.file, '.test.js') : ''}: ${d.name}`;
    if (d.skip !== undefined && d.skip !== false) {
      yield `skip - ${name}: ${d.skip === true ? 'skipped' : d.skip}\n`;
    } else if (event.type === 'test:pass') {
      yield `ok - ${name}\n`;
    } else {
      const err = d.details?.error;
      const cause = err?.cause ?? err;
      const text = String(cause?.stack ?? cause?.message ?? cause).split('\n').slice(0, 12).join('\n    ');
      yield `not ok - ${name}\n    ${text}\n`;
    }
  }
};
