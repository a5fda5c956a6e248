import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { jsonSyntaxError } from '../../../src/config/json-syntax.js';

const at = (text: string) => {
  const { offset, message } = jsonSyntaxError(text);
  return [offset, message];
};

describe('jsonSyntaxError', () => {
  test('names the first spot that breaks the grammar, and why', () => {
    assert.deepEqual(at('{"port": }'), [9, 'unexpected "}" where a value belongs']);
    assert.deepEqual(at('{"port": '), [9, 'unexpected end of the file where a value belongs']);
    assert.deepEqual(at('{"a": 1,\n "b": x\n}'), [15, 'unexpected "x" where a value belongs']);
    assert.deepEqual(at('{"a": 1 "b": 2}'), [8, 'unexpected "\\"" where "," or "}" belongs']);
    assert.deepEqual(at('[1, 2,]'), [6, 'unexpected "]" where a value belongs']);
    assert.deepEqual(at('{port: 1}'), [1, 'unexpected "p" where a quoted key belongs']);
    assert.deepEqual(at('{"a" 1}'), [5, 'unexpected "1" where ":" belongs']);
    assert.deepEqual(at('{"a": 1}}'), [8, 'unexpected "}" after the end of the JSON value']);
    assert.deepEqual(at('{"a": "x\ty"}'), [8, 'control character in a string (escape it)']);
    assert.deepEqual(at('{"a": "\\q"}'), [7, 'invalid escape in a string']);
    assert.deepEqual(at('{"a": "open'), [11, 'unexpected end of the file inside a string']);
    assert.deepEqual(at('{"a": 01}'), [7, 'unexpected "1" where "," or "}" belongs']);
    assert.deepEqual(at(''), [0, 'unexpected end of the file where a value belongs']);
  });

  test('characters that are not printable ASCII are named by their code point', () => {
    assert.deepEqual(at('{"a": \u001b[31m}'), [6, 'unexpected U+001B where a value belongs']);
    assert.deepEqual(at('\u00a0{}'), [0, 'unexpected U+00A0 where a value belongs']);
  });

  test('any nesting depth, without recursion', () => {
    const deep = `${'['.repeat(200_000)}x`;
    assert.deepEqual(at(deep), [200_000, 'unexpected "x" where a value belongs']);
  });

  test('finds no fault in valid JSON, and a fault within the text in any cut of it', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), (text, cut) => {
        assert.equal(jsonSyntaxError(text).message, 'not valid JSON');
        const broken = text.slice(0, cut % text.length);
        let valid = true;
        try {
          JSON.parse(broken);
        } catch {
          valid = false;
        }
        if (valid) return;
        const { offset, message } = jsonSyntaxError(broken);
        assert.ok(offset >= 0 && offset <= broken.length, `${offset} outside ${broken.length}`);
        assert.notEqual(message, 'not valid JSON', broken);
      }),
    );
  });
});
