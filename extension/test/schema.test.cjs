// Reading documents: numbers stored as strings, labels, colour statistics.
const test = require('node:test');
const assert = require('node:assert/strict');
const { load } = require('./load.cjs');

const { fmt, toNumber, fmtShape, stepLabel, asGraphDoc, baseName, sourceName } = load('schema');
const { nodeMetric, asColorBy, scaleColor } = load('colors');

test('numbers: NaN and infinities are strings in documents', () => {
  assert.ok(Number.isNaN(toNumber('nan')));
  assert.equal(toNumber('-inf'), -Infinity);
  assert.equal(fmt('inf'), 'inf');
  assert.equal(fmt(null), '–');
  assert.equal(fmt(0.123456), '0.1235');
  assert.equal(fmt(1.5e-7), '1.50e-7');
  assert.equal(fmt(12), '12');
  assert.equal(fmtShape([3, 8]), '3×8');
  assert.equal(fmtShape([]), 'scalar');
  assert.equal(baseName('/a/b/model.py'), 'model.py');
});

test('source names: a notebook cell by its label, a file by its base name', () => {
  assert.equal(sourceName({ file: '/tmp/ipykernel_7/2364547689.py', line: 3, label: 'In[4]' }), 'In[4]');
  assert.equal(sourceName({ file: '/a/b/model.py', line: 3 }), 'model.py');
});

test('step labels count from 1 and name the backward function', () => {
  assert.equal(stepLabel({ phase: 'backward', op: 'mul', node: 'MulBackward0' }, 6, 21), 'step 7 / 21 · backward · MulBackward0');
  assert.equal(stepLabel({ phase: 'forward', op: 'mul', node: 'MulBackward0' }, 0, 21), 'step 1 / 21 · forward · mul');
  assert.equal(stepLabel(null, 0, 0), 'no steps');
});

test('asGraphDoc accepts documents and rejects empty widget values', () => {
  assert.equal(asGraphDoc({}), null);
  assert.equal(asGraphDoc(null), null);
  const g = asGraphDoc({ nodes: [], edges: [] });
  assert.deepEqual([g.tensors, g.clusters, g.steps], [{}, [], []]);
});

test('colour statistics: log gradient norm, value mean, none', () => {
  const doc = {
    nodes: [], edges: [],
    tensors: { t: { key: 't', summary: { mean: -2, std: 1, norm: 100 }, grad: { norm: 0.001 } }, u: { key: 'u', summary: { norm: 'nan' } } }
  };
  const op = { id: 'op1', kind: 'op', outputs: ['t'] };
  assert.ok(Math.abs(nodeMetric(doc, op, 'grad') - -3) < 1e-6);
  assert.ok(Math.abs(nodeMetric(doc, op, 'norm') - 2) < 1e-6);
  assert.equal(nodeMetric(doc, op, 'mean'), -2);
  assert.equal(nodeMetric(doc, op, 'none'), null);
  assert.equal(nodeMetric(doc, { id: 'x', kind: 'leaf', tensor: 'u' }, 'norm'), null);
  assert.equal(asColorBy('bogus'), 'grad');
  assert.equal(scaleColor(0), 'rgb(59, 76, 192)');
  assert.equal(scaleColor(1), 'rgb(180, 4, 38)');
});
