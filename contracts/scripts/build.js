#!/usr/bin/env node
// Compile every contracts/src/**/*.sol with the pinned npm solc (standard JSON) and write one deterministic
// artifact per contract to contracts/artifacts/<Name>.json.
//
//   node scripts/build.js           write artifacts (and delete orphaned ones)
//   node scripts/build.js --check   recompile in memory; exit 1 naming every stale, missing or orphaned artifact
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const solc = require('solc');

const ROOT = path.resolve(__dirname, '..');
const SRC = path.join(ROOT, 'src');
const ARTIFACTS = path.join(ROOT, 'artifacts');
const NODE_MODULES = path.join(ROOT, 'node_modules');
const EXPECTED_SOLC = require(path.join(ROOT, 'package.json')).devDependencies.solc;

// Fixed compiler settings; recorded verbatim in every artifact (outputSelection is not recorded).
const SETTINGS = {
  evmVersion: 'cancun',
  optimizer: { enabled: true, runs: 200 },
  metadata: { bytecodeHash: 'ipfs' },
  viaIR: false,
};

function fail(msg) {
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
}

function listSol(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSol(p));
    else if (entry.isFile() && entry.name.endsWith('.sol')) out.push(p);
  }
  return out.sort();
}

// Source unit name (as solc sees it) -> file on disk. Project files are "src/...", packages resolve from node_modules.
function resolveUnit(unit) {
  if (unit.startsWith('src/')) return path.join(ROOT, unit);
  if (unit.startsWith('@openzeppelin/')) return path.join(NODE_MODULES, unit);
  return null;
}

// Every source actually read, unit name -> content, so hashes match exactly what was compiled.
const readSources = new Map();

function readUnit(unit) {
  const file = resolveUnit(unit);
  if (!file || path.relative(ROOT, file).startsWith('..')) return null;
  if (!fs.existsSync(file)) return null;
  const content = fs.readFileSync(file, 'utf8');
  readSources.set(unit, content);
  return content;
}

function findImports(unit) {
  const content = readUnit(unit);
  if (content === null) return { error: `cannot resolve import "${unit}" (only src/ and @openzeppelin/ are allowed)` };
  return { contents: content };
}

function sha256(text) {
  return crypto.createHash('sha256').update(text, 'utf8').digest('hex');
}

// Deterministic JSON: keys sorted recursively, 2-space indent, trailing newline.
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}
function stableJson(v) {
  return JSON.stringify(sortKeys(v), null, 2) + '\n';
}

function compile() {
  const version = solc.version();
  if (!version.startsWith(EXPECTED_SOLC + '+')) {
    fail(`solc ${version} is not the pinned ${EXPECTED_SOLC}; run npm ci`);
  }
  const files = listSol(SRC);
  if (files.length === 0) fail('no sources in src/');
  const sources = {};
  for (const f of files) {
    const unit = path.relative(ROOT, f).split(path.sep).join('/');
    sources[unit] = { content: readUnit(unit) };
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      ...SETTINGS,
      outputSelection: {
        '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'metadata'] },
      },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (output.errors || []).filter((e) => e.severity === 'error');
  const warnings = (output.errors || []).filter((e) => e.severity !== 'error');
  for (const w of warnings) process.stderr.write(w.formattedMessage || w.message);
  if (errors.length) {
    for (const e of errors) process.stderr.write(e.formattedMessage || e.message);
    fail(`${errors.length} compile error(s)`);
  }

  const artifacts = new Map(); // name -> JSON text
  for (const unit of Object.keys(sources)) {
    const contracts = (output.contracts || {})[unit] || {};
    for (const name of Object.keys(contracts).sort()) {
      if (artifacts.has(name)) fail(`contract name ${name} is defined twice (artifact names must be unique)`);
      const c = contracts[name];
      const meta = JSON.parse(c.metadata);
      const sourceHashes = {};
      for (const dep of Object.keys(meta.sources).sort()) {
        if (!readSources.has(dep)) fail(`metadata of ${name} names ${dep}, which was not read`);
        sourceHashes[dep] = sha256(readSources.get(dep));
      }
      artifacts.set(
        name,
        stableJson({
          contractName: name,
          abi: c.abi,
          bytecode: '0x' + c.evm.bytecode.object,
          deployedBytecode: '0x' + c.evm.deployedBytecode.object,
          compiler: { version, settings: SETTINGS },
          sourceHashes,
        }),
      );
    }
  }
  return artifacts;
}

function existingArtifacts() {
  if (!fs.existsSync(ARTIFACTS)) return [];
  return fs.readdirSync(ARTIFACTS).filter((f) => f.endsWith('.json')).sort();
}

function main() {
  const check = process.argv.includes('--check');
  const t0 = Date.now();
  const artifacts = compile();
  const rel = (name) => path.relative(process.cwd(), path.join(ARTIFACTS, name + '.json'));

  if (check) {
    const problems = [];
    for (const [name, text] of artifacts) {
      const file = path.join(ARTIFACTS, name + '.json');
      if (!fs.existsSync(file)) problems.push(`missing: ${rel(name)}`);
      else if (fs.readFileSync(file, 'utf8') !== text) problems.push(`stale: ${rel(name)}`);
    }
    for (const f of existingArtifacts()) {
      const name = f.slice(0, -5);
      if (!artifacts.has(name)) problems.push(`orphaned (no such contract in src/): ${rel(name)}`);
    }
    if (problems.length) {
      for (const p of problems) process.stderr.write(p + '\n');
      fail(`artifacts are out of date with src/ (${problems.length} problem(s)); run \`npm run build\` and commit artifacts/`);
    }
    process.stdout.write(`ok: ${artifacts.size} artifact(s) up to date (${Date.now() - t0} ms)\n`);
    return;
  }

  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of existingArtifacts()) {
    if (!artifacts.has(f.slice(0, -5))) {
      fs.unlinkSync(path.join(ARTIFACTS, f));
      process.stdout.write(`removed orphan ${f}\n`);
    }
  }
  for (const [name, text] of artifacts) {
    const file = path.join(ARTIFACTS, name + '.json');
    const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    if (old !== text) fs.writeFileSync(file, text);
    process.stdout.write(`${old === text ? 'unchanged' : 'wrote'} ${rel(name)}\n`);
  }
  process.stdout.write(`built ${artifacts.size} artifact(s) with solc ${solc.version()} (${Date.now() - t0} ms)\n`);
}

main();
