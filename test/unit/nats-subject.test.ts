import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SubjectTemplate, subjectTemplateProblem, subjectToken } from '../../src/sinks/nats/subject.js';

test('names made of letters, digits, _ and - are subject tokens as they are', () => {
  assert.equal(subjectToken('orders'), 'orders');
  assert.equal(subjectToken('Order_Lines-2'), 'Order_Lines-2');
});

test('every other byte of a name is percent-encoded, so a name stays one token', () => {
  assert.equal(subjectToken('Odd.Name'), 'Odd%2EName');
  assert.equal(subjectToken('My Schema'), 'My%20Schema');
  assert.equal(subjectToken('a*b>c'), 'a%2Ab%3Ec');
  assert.equal(subjectToken('100%'), '100%25');
  assert.equal(subjectToken('$x'), '%24x');
  assert.equal(subjectToken("it's(1)!~"), 'it%27s%281%29%21%7E');
  assert.equal(subjectToken('café'), 'caf%C3%A9');
  assert.equal(subjectToken('a\tb'), 'a%09b');
});

test('the encoding keeps any name to safe characters and decodes back to it', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), (name) => {
      const token = subjectToken(name);
      assert.match(token, /^[A-Za-z0-9_%-]+$/);
      assert.equal(decodeURIComponent(token), name);
    }),
  );
});

test('a template renders schema, table and the lower-case operation', () => {
  const template = new SubjectTemplate('walhook.{schema}.{table}.{op}');
  const relation = { schema: 'public', name: 'orders' };
  assert.equal(template.render(relation, 'INSERT'), 'walhook.public.orders.insert');
  assert.equal(template.render(relation, 'UPDATE'), 'walhook.public.orders.update');
  assert.equal(template.render(relation, 'DELETE'), 'walhook.public.orders.delete');
  assert.equal(template.render(relation, 'TRUNCATE'), 'walhook.public.orders.truncate');
  assert.equal(
    template.render({ schema: 'My Schema', name: 'Odd.Name' }, 'INSERT'),
    'walhook.My%20Schema.Odd%2EName.insert',
  );
});

test('placeholders may share a token with text, repeat or be left out', () => {
  const relation = { schema: 'sales', name: 'orders' };
  assert.equal(new SubjectTemplate('cdc.{schema}_{table}').render(relation, 'DELETE'), 'cdc.sales_orders');
  assert.equal(new SubjectTemplate('{op}.{table}.{op}').render(relation, 'UPDATE'), 'update.orders.update');
  assert.equal(new SubjectTemplate('all.changes').render(relation, 'INSERT'), 'all.changes');
});

test('a relation is rendered once per operation and reused', () => {
  const template = new SubjectTemplate('{schema}.{table}.{op}');
  const relation = { schema: 'public', name: 'orders' };
  assert.equal(template.render(relation, 'INSERT'), template.render(relation, 'INSERT'));
  assert.equal(template.render({ ...relation }, 'INSERT'), 'public.orders.insert');
});

test('templates that could not be published to are refused with the reason', () => {
  assert.equal(subjectTemplateProblem('walhook.{schema}.{table}.{op}'), null);
  assert.equal(subjectTemplateProblem('a-b_c.{table}'), null);
  assert.equal(subjectTemplateProblem(''), 'must not be empty');
  for (const template of ['a..b', '.a', 'a.', '{table}.']) {
    assert.match(subjectTemplateProblem(template) ?? '', /^empty token/, template);
  }
  for (const template of ['a.*', 'a.>', 'a b', 'a.{table', 'a}b', 'a\tb']) {
    assert.match(subjectTemplateProblem(template) ?? '', /^expected a NATS subject/, template);
  }
  assert.equal(
    subjectTemplateProblem('walhook.{tabel}'),
    'unknown placeholder {tabel} (expected {schema}, {table} or {op})',
  );
  assert.throws(() => new SubjectTemplate('a..b'), RangeError);
});
