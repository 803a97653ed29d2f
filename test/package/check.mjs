// Package checks, on the package as users get it (`npm run test:package`, after the build):
// 1. a fresh checkout (the committed files only, no dist/) packs, and its prepack builds dist/;
//    the tarball holds dist/, LICENSE, README.md and package.json, and nothing else;
// 2. that tarball, installed, works for a CommonJS and an ESM consumer app, and its types
//    typecheck a TypeScript consumer under moduleResolution node10, node16 and bundler;
// 3. publint, and attw on every resolution profile.
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args, cwd = root) => execFileSync(cmd, args, { cwd, stdio: 'inherit' });
const step = (text) => console.log(`\n-- ${text}`);

step('a fresh checkout packs, and its prepack builds dist/');
const checkout = mkdtempSync(join(tmpdir(), 'express-sms-2fa-checkout-'));
try {
  // `git archive HEAD`: exactly the committed files, as a fresh clone has them (no dist/).
  execSync(`git archive HEAD | tar -x -C "${checkout}"`, { cwd: root, stdio: 'inherit' });
  assert.equal(readdirSync(checkout).includes('dist'), false, 'the checkout must not hold dist/');
  symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'), 'dir');
  const packDir = join(checkout, '.pack');
  mkdirSync(packDir);
  execFileSync('npm', ['pack', '--pack-destination', packDir], {
    cwd: checkout,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [tarballName] = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  assert.ok(tarballName, 'npm pack wrote no tarball');
  const tarball = join(packDir, tarballName);
  const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  console.log(files.map((f) => `   ${f}`).join('\n'));
  for (const needed of [
    'package.json',
    'README.md',
    'LICENSE',
    'dist/index.js',
    'dist/index.cjs',
    'dist/index.d.ts',
    'dist/index.d.cts',
    'dist/testing.js',
    'dist/testing.cjs',
    'dist/testing.d.ts',
    'dist/testing.d.cts',
  ]) {
    assert.ok(files.includes(needed), `the tarball lacks ${needed}`);
  }
  const stray = files.filter((f) => !/^(package\.json|README\.md|LICENSE|dist\/.+)$/.test(f));
  assert.deepEqual(stray, [], `the tarball holds files users do not need: ${stray.join(', ')}`);

  step('the packed package, installed, in CommonJS, ESM and TypeScript consumers');
  const consumer = join(root, 'test', 'package', '.consumer');
  rmSync(consumer, { recursive: true, force: true });
  const installed = join(consumer, 'node_modules', 'express-sms-2fa');
  mkdirSync(installed, { recursive: true });
  run('tar', ['-xzf', tarball, '--strip-components=1', '-C', installed]);
  cpSync(join(root, 'test', 'package', 'consumer'), consumer, { recursive: true });
  // A package.json of its own, so that `express-sms-2fa` resolves to the install, not to this repo.
  writeFileSync(
    join(consumer, 'package.json'),
    '{ "name": "consumer", "private": true, "type": "module" }\n',
  );
  for (const file of ['smoke.cjs', 'smoke.mjs', 'app.cjs', 'app.mjs']) run('node', [file], consumer);
  for (const profile of ['node10', 'node16', 'bundler']) {
    run(bin('tsc'), ['-p', `tsconfig.${profile}.json`], consumer);
    console.log(`TypeScript consumer OK (moduleResolution ${profile})`);
  }

  step('publint and attw (every resolution profile)');
  run(bin('publint'), [checkout]);
  run(bin('attw'), [tarball]);
} finally {
  rmSync(checkout, { recursive: true, force: true });
}
console.log('\npackage checks passed');
