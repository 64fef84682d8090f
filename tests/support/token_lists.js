// Dump the published token lists that package.json installs (npm ci) as JSON lines:
// {"list": NAME, "chainId": N, "address": "0x..", "decimals": N, "symbol": ".."}. Used by
// tests/store/test_token_registry.py to cross-check the bundled registry's addresses and decimals.
"use strict";
const path = require("path");
const root = path.resolve(__dirname, "..", "..", "node_modules");
const out = [];
function add(list, chainId, address, decimals, symbol) {
  if (address && decimals !== undefined && decimals !== null)
    out.push({ list, chainId: Number(chainId), address: String(address), decimals: Number(decimals),
               symbol: String(symbol || "") });
}
for (const [list, file] of [
  ["uniswap", "@uniswap/default-token-list/build/uniswap-default.tokenlist.json"],
  ["sushiswap", "@sushiswap/default-token-list/build/sushiswap-default.tokenlist.json"],
]) {
  for (const t of require(path.join(root, file)).tokens) add(list, t.chainId, t.address, t.decimals, t.symbol);
}
const op = require(path.join(root, "@eth-optimism/tokenlist"));
for (const t of (op.default || op).tokens) add("optimism", t.chainId, t.address, t.decimals, t.symbol);
const lifi = require(path.join(root, "@lifi/data-types"));
for (const coin of lifi.basicCoins)
  for (const [cid, t] of Object.entries(coin.chains)) add("lifi", cid, t.address, t.decimals, t.symbol || coin.key);
const aave = require(path.join(root, "@bgd-labs/aave-address-book"));
const chainOf = { Ethereum: 1, BNB: 56, Polygon: 137, Arbitrum: 42161, Optimism: 10, Base: 8453 };
for (const [name, mod] of Object.entries(aave)) {
  const m = /^AaveV[23](Ethereum|BNB|Polygon|Arbitrum|Optimism|Base)[A-Za-z]*$/.exec(name);
  if (!m || !mod || !mod.ASSETS) continue;
  for (const [sym, a] of Object.entries(mod.ASSETS)) add("aave", chainOf[m[1]], a.UNDERLYING, a.decimals, sym);
}
for (const x of out) process.stdout.write(JSON.stringify(x) + "\n");
