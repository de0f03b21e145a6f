#!/usr/bin/env node
// Compiles contracts/*.sol with the pinned solc-js into contracts/artifacts/<Contract>.json.
//
//   node contracts/compile.mjs           write the artifacts (`make contracts`)
//   node contracts/compile.mjs --check   exit 1 if the committed artifacts differ from a fresh compile
//
// The artifacts are committed so Python needs no compiler; CI runs --check so they cannot drift
// from the sources. Everything that shapes the bytecode is fixed here (compiler version, EVM
// version, optimizer, source paths), so a recompile on any machine is byte-identical.
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

// The hardfork the bytecode targets. solc's default follows its newest hardfork, which chains
// adopt later; cancun has the transient storage the reentrancy guard uses.
const EVM_VERSION = "cancun";
const OPTIMIZER = { enabled: true, runs: 200 };

const contractsDir = dirname(fileURLToPath(import.meta.url));
const rootDir = resolve(contractsDir, "..");
const artifactsDir = join(contractsDir, "artifacts");
const nodeModules = join(rootDir, "node_modules");

// contracts/*.sol are deployed; contracts/test/*.sol exist only for the tests (their artifacts
// go to artifacts/test/, so nobody deploys one by mistake).
const SOURCE_DIRS = ["", "test"];

// Source names are paths relative to the repository root: they end up in the metadata hash
// appended to the bytecode, so an absolute path would make the output depend on the checkout.
function sources() {
  const found = {};
  for (const sub of SOURCE_DIRS) {
    const dir = join(contractsDir, sub);
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
      found[["contracts", sub, f].filter(Boolean).join("/")] = { content: readFileSync(join(dir, f), "utf8") };
    }
  }
  return found;
}

// Where a contract's artifact goes, relative to artifacts/: beside the others, or in test/.
function artifactFile(sourceName, contractName) {
  const sub = dirname(sourceName.slice("contracts/".length));
  return sub === "." ? `${contractName}.json` : `${sub}/${contractName}.json`;
}

function listArtifacts() {
  return SOURCE_DIRS.flatMap((sub) => {
    const dir = join(artifactsDir, sub);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => (sub ? `${sub}/${f}` : f));
  });
}

// Imports such as "@openzeppelin/contracts/..." come from the lockfile's node_modules only.
function findImports(importPath) {
  const file = resolve(nodeModules, importPath);
  if (!file.startsWith(nodeModules + sep) || !existsSync(file)) {
    return { error: `not found in node_modules: ${importPath}` };
  }
  return { contents: readFileSync(file, "utf8") };
}

function compile() {
  const input = {
    language: "Solidity",
    sources: sources(),
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: OPTIMIZER,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  // Errors fail, and so do warnings about our own sources, which are small enough to keep
  // clean. A library's warnings are its authors' call: OpenZeppelin's transient reentrancy
  // guard draws solc's general tstore warning, which its own docs say does not apply to it.
  const fatal = (output.errors ?? []).filter(
    (m) => m.severity === "error" || m.sourceLocation?.file?.startsWith("contracts/"),
  );
  for (const m of fatal) console.error(m.formattedMessage.trimEnd());
  if (fatal.length > 0) {
    console.error(`compile.mjs: ${fatal.length} compiler message(s), no artifacts written`);
    process.exit(2);
  }

  const artifacts = {};
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    if (!sourceName.startsWith("contracts/")) continue;
    for (const [contractName, out] of Object.entries(contracts)) {
      artifacts[artifactFile(sourceName, contractName)] = {
        contractName,
        sourceName,
        compiler: { version: solc.version(), evmVersion: EVM_VERSION, optimizer: OPTIMIZER },
        abi: out.abi,
        bytecode: `0x${out.evm.bytecode.object}`,
        deployedBytecode: `0x${out.evm.deployedBytecode.object}`,
      };
    }
  }
  return Object.fromEntries(
    Object.entries(artifacts).map(([file, a]) => [file, `${JSON.stringify(a, null, 2)}\n`]),
  );
}

const fresh = compile();
if (process.argv.includes("--check")) {
  const stale = Object.entries(fresh)
    .filter(([file, text]) => {
      const path = join(artifactsDir, file);
      return !existsSync(path) || readFileSync(path, "utf8") !== text;
    })
    .map(([file]) => relative(rootDir, join(artifactsDir, file)));
  const known = new Set(Object.keys(fresh));
  const orphans = listArtifacts().filter((f) => !known.has(f));
  stale.push(...orphans.map((f) => relative(rootDir, join(artifactsDir, f))));
  if (stale.length > 0) {
    console.error(`contract artifacts differ from a fresh compile (run \`make contracts\`): ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(`contract artifacts match a fresh compile (solc ${solc.version()}, ${EVM_VERSION})`);
} else {
  for (const [file, text] of Object.entries(fresh)) {
    mkdirSync(dirname(join(artifactsDir, file)), { recursive: true });
    writeFileSync(join(artifactsDir, file), text);
  }
  console.log(`wrote ${Object.keys(fresh).map((f) => relative(rootDir, join(artifactsDir, f))).join(", ")}`);
}
