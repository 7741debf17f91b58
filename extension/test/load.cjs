// Loads the extension's TypeScript sources in Node for the unit tests: each file is transpiled
// to CommonJS in memory (no build output), and relative imports resolve to other sources.
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const SRC = path.resolve(__dirname, '..', 'src');
const cache = new Map();

function load(name) {
  const file = path.join(SRC, name.replace(/^\.\//, '') + '.ts');
  if (cache.has(file)) {
    return cache.get(file).exports;
  }
  const out = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020, esModuleInterop: true },
    fileName: file
  });
  const mod = { exports: {} };
  cache.set(file, mod);
  const localRequire = spec => (spec.startsWith('./') ? load(spec) : require(spec));
  new Function('exports', 'require', 'module', '__filename', '__dirname', out.outputText)(
    mod.exports, localRequire, mod, file, path.dirname(file));
  return mod.exports;
}

module.exports = { load };
