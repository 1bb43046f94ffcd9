'use strict';
// The library the binding loads: its ABI version and its table of codes.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFile, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { netmesh } = require('./helpers');

const { LibraryVersionError, MeshError } = netmesh;

// A library that is not this binding's ABI: mesh_abi_version answers 999, and
// nothing else of the C ABI is there (the binding checks the version before it
// needs any other function).
const OTHER_ABI_SOURCE = `#include <stdint.h>
uint32_t mesh_abi_version(void) { return 999; }
const char *mesh_version(void) { return "9.9.9"; }
`;

/** Compiles C source into a shared library in a temporary directory; returns its path. */
function buildSharedLibrary(t, name, source) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmesh-nodetest-lib-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cFile = path.join(dir, `${name}.c`);
  const libFile = path.join(dir, name);
  fs.writeFileSync(cFile, source);
  const [cc, ...ccArgs] = (process.env.CC || 'cc').split(/\s+/).filter(Boolean);
  execFileSync(cc, [...ccArgs, '-shared', '-fPIC', '-o', libFile, cFile], { stdio: 'pipe' });
  return libFile;
}

/** Runs a script in a fresh Node process (the library is loaded once per process). */
function runNode(script, env) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, ...env }, timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

test('a library of another ABI version is refused with LibraryVersionError', async (t) => {
  const lib = buildSharedLibrary(t, 'libother_abi.so', OTHER_ABI_SOURCE);
  const script = `
    const netmesh = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const describe = (err) => ({
      name: err.name, message: err.message, isVersionError: err instanceof netmesh.LibraryVersionError,
      isError: err instanceof Error, isMeshError: err instanceof netmesh.MeshError,
      path: err.path, found: err.found, expected: err.expected,
    });
    (async () => {
      const out = [];
      for (const call of [() => netmesh.Bus.open({}), () => netmesh.libraryVersion()]) {
        try { await call(); out.push('resolved'); } catch (err) { out.push(describe(err)); }
      }
      process.stdout.write(JSON.stringify(out));
    })();`;
  const results = JSON.parse(await runNode(script, { NETMESH_LIBRARY: lib }));
  assert.equal(results.length, 2);
  for (const r of results) {
    assert.deepEqual(r, {
      name: 'LibraryVersionError',
      message: `${lib} has ABI version 999; this binding needs ${netmesh.ABI_VERSION}`,
      isVersionError: true,
      isError: true,
      isMeshError: false,
      path: lib,
      found: 999,
      expected: netmesh.ABI_VERSION,
    });
  }
});

test('LibraryVersionError is exported and typed like the other errors', async () => {
  const err = new LibraryVersionError('/x/libnetmesh.so', 2);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'LibraryVersionError');
  assert.equal(err.expected, netmesh.ABI_VERSION);
  const esm = await import('../index.mjs');
  assert.equal(esm.LibraryVersionError, LibraryVersionError);
});

test('the binding knows exactly the codes the library has (mesh_strerror)', () => {
  const native = netmesh._load();
  // mesh_strerror enters Go, so this synchronous call costs a main-thread cgo entry
  // (~0.2 ms): fine in a test. The binding itself never calls it.
  const strerror = native.lib.func('const char *mesh_strerror(int32_t code)');
  const UNKNOWN = 'unknown code';
  assert.equal(strerror(1), UNKNOWN); // the probe itself works
  const known = netmesh._codes;
  for (const status of Object.keys(known).map(Number)) {
    assert.notEqual(strerror(status), UNKNOWN, `the library has no code ${status} (${known[status]})`);
  }
  const libraryCodes = [];
  for (let status = -128; status <= 0; status++) {
    if (strerror(status) !== UNKNOWN) libraryCodes.push(status);
  }
  assert.ok(libraryCodes.includes(0));
  for (const status of libraryCodes) {
    assert.ok(Object.hasOwn(known, status), `the binding does not know code ${status}: ${strerror(status)}`);
    if (status !== 0) assert.equal(MeshError.fromResponse(status, null).code, known[status]);
  }
});

test('a library found nowhere: the error names every place looked in', async (t) => {
  // A copy of the package outside the checkout, with koffi through NODE_PATH.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netmesh-nodetest-lookup-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pkg = path.join(dir, 'netmesh');
  fs.mkdirSync(pkg);
  for (const f of ['index.js', 'requests.js', 'package.json']) fs.copyFileSync(path.resolve(__dirname, '..', f), path.join(pkg, f));
  const env = { ...process.env, NODE_PATH: path.resolve(__dirname, '../node_modules') };
  delete env.NETMESH_LIBRARY;
  delete env.LD_LIBRARY_PATH;
  const script = `try { require(${JSON.stringify(pkg)}).findLibrary(); } catch (err) { process.stdout.write(err.message); }`;
  const message = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env, cwd: dir, timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  if (!message.includes('not found')) {
    t.skip(`a system libnetmesh.so.0 is installed: ${message}`);
    return;
  }
  const prebuilt = path.join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'libnetmesh.so');
  const order = ['NETMESH_LIBRARY (not set)', prebuilt, 'libnetmesh.so.0 through the dynamic loader',
    path.join(pkg, 'build', 'libnetmesh.so'), path.join(dir, 'build', 'libnetmesh.so')];
  let at = -1;
  for (const place of order) {
    const next = message.indexOf(place);
    assert.ok(next > at, `${JSON.stringify(place)} missing or out of order in: ${message}`);
    at = next;
  }
});
