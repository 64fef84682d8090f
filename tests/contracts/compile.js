// Regenerate chainrisk/demo/contracts/<Name>.json (ABI + bytecode, package data: the demo's --via-node deploys
// them) from each .sol file in this folder with the npm solc package pinned in package.json.
// Run from the repository root after `npm ci`:  node tests/contracts/compile.js
// Output goes to files (piped solc output is cut at 64 KiB).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = __dirname;
const sources = {};
for (const f of fs.readdirSync(dir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[f] = { content: fs.readFileSync(path.join(dir, f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object) continue;  // interfaces
    const target = path.join(dir, "..", "..", "chainrisk", "demo", "contracts", name + ".json");
    const doc = { contract: name, source: file, compiler: "solc " + solc.version(), abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object };
    fs.writeFileSync(target, JSON.stringify(doc, null, 1) + "\n");
    process.stderr.write("wrote " + path.relative(process.cwd(), target) + "\n");
  }
}
