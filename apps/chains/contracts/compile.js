// Compile Solidity with the pinned solc-js (npm "solc"), offline, resolving OpenZeppelin from node_modules.
// Reads a standard-JSON input on stdin, writes the standard-JSON output on stdout.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..", "..", "..");
function findImports(importPath) {
  const candidate = path.join(root, "node_modules", importPath);
  if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, "utf8") };
  return { error: "File not found: " + importPath };
}
const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
