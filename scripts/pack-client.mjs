#!/usr/bin/env node
// `npm run client:pack`: @floe/client as a package a platform team installs from a registry — compiled to
// JavaScript with type declarations, the generated contracts bundled inside (so it depends on @grpc/grpc-js
// and @bufbuild/protobuf only), packed as dist/floe-client-<version>.tgz. The workspace keeps running the
// TypeScript sources; this is the form that leaves the repository.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, dirname } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'client-package');
const lib = join(out, 'lib');
rmSync(out, { recursive: true, force: true });

const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'libs/client/tsconfig.build.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

// The client's imports of the workspace contracts become relative imports of the bundled copy.
const contractsIndex = join(lib, 'contracts', 'src', 'index');
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
for (const file of walk(join(lib, 'client'))) {
  if (!/\.(js|d\.ts)$/.test(file)) continue;
  let rel = relative(dirname(file), contractsIndex);
  if (!rel.startsWith('.')) rel = `./${rel}`;
  const text = readFileSync(file, 'utf8').replace(/(['"])@floe\/contracts\1/g, `'${rel}.js'`);
  writeFileSync(file, text);
}
// Server reflection's descriptor set travels with the contracts.
copyFileSync(join(root, 'libs/contracts/src/descriptor.binpb'), join(lib, 'contracts/src/descriptor.binpb'));

const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const clientPackage = JSON.parse(readFileSync(join(root, 'libs/client/package.json'), 'utf8'));
const dependency = (name) => rootPackage.dependencies[name];
writeFileSync(
  join(out, 'package.json'),
  JSON.stringify(
    {
      name: clientPackage.name,
      version: clientPackage.version,
      description: clientPackage.description,
      license: clientPackage.license,
      type: 'module',
      engines: rootPackage.engines,
      exports: { '.': { types: './lib/client/src/index.d.ts', default: './lib/client/src/index.js' } },
      files: ['lib'],
      dependencies: {
        '@grpc/grpc-js': `^${dependency('@grpc/grpc-js')}`,
        '@bufbuild/protobuf': `^${dependency('@bufbuild/protobuf')}`,
      },
    },
    null,
    2,
  ) + '\n',
);
const pack = spawnSync('npm', ['pack', '--silent', '--pack-destination', join(root, 'dist')], {
  cwd: out,
  encoding: 'utf8',
});
if (pack.status !== 0) {
  process.stderr.write(pack.stderr);
  process.exit(pack.status ?? 1);
}
console.log(`packed ${join('dist', pack.stdout.trim())} (the package's folder: ${relative(root, out)})`);
