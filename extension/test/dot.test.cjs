// DOT generation: escaping of user strings, module collapsing, merged edges, and what Graphviz
// makes of hostile names.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { load } = require('./load.cjs');

const { dotEscape, dotLabel, buildVisModel, isCollapsed } = load('dot');

const HOSTILE = '<img src=x onerror=alert(1)>';

/** A small graph document: an input, a module `body` with sub-modules, and a loss. */
function doc(moduleName = 'body') {
  const m = moduleName;
  const nodes = [
    { id: 'op0', kind: 'op', label: 'randn', module: '', step: 0, outputs: ['t0'] },
    { id: `param:${m}.0.weight`, kind: 'param', label: `${m}.0.weight`, tensor: `param:${m}.0.weight`, module: `${m}.0`, backward_step: 9 },
    { id: 'op1', kind: 'op', label: 'linear', module: `${m}.0`, step: 1, outputs: ['t1'] },
    { id: 'op2', kind: 'op', label: 'relu', module: `${m}.1`, step: 2, outputs: ['t2'] },
    { id: 'op3', kind: 'op', label: 'sum', module: '', step: 3, outputs: ['t3'] },
    { id: 'out:t3', kind: 'output', label: 'loss', tensor: 't3', module: '' }
  ];
  const edges = [
    { source: 'op0', target: 'op1', tensor: 't0', shape: [5, 4] },
    { source: `param:${m}.0.weight`, target: 'op1', tensor: `param:${m}.0.weight`, shape: [3, 4] },
    { source: 'op1', target: 'op2', tensor: 't1', shape: [5, 3] },
    { source: 'op2', target: 'op3', tensor: 't2', shape: [5, 3] },
    { source: 'op3', target: 'out:t3', tensor: 't3', shape: [] }
  ];
  const tensors = {};
  for (const k of ['t0', 't1', 't2', 't3', `param:${m}.0.weight`]) {
    tensors[k] = { key: k, shape: k === 't3' ? [] : [5, 3], dtype: 'float32', device: 'cpu' };
  }
  const clusters = [m, `${m}.0`, `${m}.1`].map(p => ({ id: p, path: p, depth: p.split('.').length, collapsed: false }));
  return { schema: 'pellucid.graph', version: 1, cursor: 3, nodes, edges, tensors, clusters, steps: [] };
}

/** The text of every quoted string in DOT source, and the source with them removed. */
function splitQuoted(dot) {
  const strings = [];
  const rest = dot.replace(/"((?:[^"\\]|\\.)*)"/g, (_, body) => {
    strings.push(body);
    return '""';
  });
  return { strings, rest };
}

test('dotEscape escapes quotes, backslashes, entities and control characters', () => {
  assert.equal(dotEscape('a"b'), 'a\\"b');
  assert.equal(dotEscape('a\\nb'), 'a\\\\nb');            // a literal backslash-n stays text
  assert.equal(dotEscape('x & y &lt;'), 'x &amp; y &amp;lt;');
  assert.equal(dotEscape('one\ntwo\r\nthree'), 'one two three');
  assert.equal(dotEscape('bell\u0007'), 'bell\uFFFD');
  assert.equal(dotEscape('x'.repeat(60)).length, 40);
  assert.equal(dotLabel(['a', 'b"c']), '"a\\nb\\"c"');
});

test('depth collapses modules into mod:<path> nodes; expanded and closed override it', () => {
  const g = doc();
  const ids = m => [...m.nodes.values()].map(v => v.id).sort();
  assert.deepEqual(ids(buildVisModel(g, { depth: 0, expanded: [] })), ['mod:body', 'op0', 'op3', 'out:t3']);
  assert.deepEqual(ids(buildVisModel(g, { depth: 1, expanded: [] })),
    ['mod:body.0', 'mod:body.1', 'op0', 'op3', 'out:t3']);
  assert.deepEqual(ids(buildVisModel(g, { depth: -1, expanded: [] })),
    ['op0', 'op1', 'op2', 'op3', 'out:t3', 'param:body.0.weight']);
  assert.deepEqual(ids(buildVisModel(g, { depth: 1, expanded: ['body.0'] })),
    ['mod:body.1', 'op0', 'op1', 'op3', 'out:t3', 'param:body.0.weight']);
  assert.deepEqual(ids(buildVisModel(g, { depth: -1, expanded: [], closed: ['body'] })), ['mod:body', 'op0', 'op3', 'out:t3']);
  // the document's own collapsed flags count as collapsed by default
  const flagged = doc();
  flagged.clusters[0].collapsed = true;
  assert.equal(isCollapsed('body', { depth: -1, expanded: [] }, new Set(['body'])), true);
  assert.deepEqual(ids(buildVisModel(flagged, { depth: -1, expanded: [] })), ['mod:body', 'op0', 'op3', 'out:t3']);
});

test('edges into and out of a collapsed module are merged, and none loops on itself', () => {
  const m = buildVisModel(doc(), { depth: 0, expanded: [] });
  const byId = id => [...m.nodes.values()].find(v => v.id === id).gid;
  const edges = [...m.edges.keys()];
  assert.ok(edges.includes(`${byId('op0')}->${byId('mod:body')}`));
  assert.ok(edges.includes(`${byId('mod:body')}->${byId('op3')}`));
  assert.equal(edges.length, 3);
  assert.ok(!edges.some(e => e.split('->')[0] === e.split('->')[1]));
  const mod = [...m.nodes.values()].find(v => v.id === 'mod:body');
  assert.deepEqual(mod.lines, ['body', '2 ops']);
  assert.equal(mod.members.length, 3);
});

test('user text only appears inside escaped DOT strings', () => {
  const g = doc(HOSTILE + '"];evil[label="x');
  const m = buildVisModel(g, { depth: -1, expanded: [] });
  const { strings, rest } = splitQuoted(m.dot);
  assert.ok(!rest.includes('img') && !rest.includes('evil'), rest);
  assert.ok(strings.some(x => x.includes('&lt;') === false && x.includes('<img src=x onerror=alert(1)>')));
  // node names are generated
  for (const v of m.nodes.values()) {
    assert.match(v.gid, /^n\d+$/);
  }
});

test('Graphviz writes hostile names as escaped text in its SVG', async () => {
  const { Graphviz } = await import(path.resolve(__dirname, '..', 'node_modules', '@hpcc-js', 'wasm-graphviz', 'dist', 'index.js'));
  const gv = await Graphviz.load();
  const m = buildVisModel(doc(HOSTILE), { depth: -1, expanded: [] });
  const svg = gv.layout(m.dot, 'svg', 'dot');
  assert.ok(!svg.includes('<img'), 'raw markup in the SVG');
  assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;'), 'the cluster label is missing');
  assert.ok(svg.includes('&lt;img src=x onerror=alert(1)&gt;.0.weight'));
  // one SVG node per drawn node, named by the generated ids
  const titles = [...svg.matchAll(/<g id="[^"]*" class="node">\s*<title>([^<]*)<\/title>/g)].map(x => x[1]).sort();
  assert.deepEqual(titles, [...m.nodes.keys()].sort());
});
