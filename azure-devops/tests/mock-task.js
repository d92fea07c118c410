"use strict";
// Runs KpushDeploy/index.js under azure-pipelines-task-lib's mock runner for the scenario in
// $KPUSH_TEST_SCENARIO (JSON: inputs, env, kpushExit, kpushStdout, kpushStderr).
const fs = require("node:fs");
const path = require("node:path");
const taskDir = path.join(__dirname, "..", "KpushDeploy");
const { TaskMockRunner } = require(path.join(taskDir, "node_modules", "azure-pipelines-task-lib", "mock-run"));

const scenario = JSON.parse(fs.readFileSync(process.env.KPUSH_TEST_SCENARIO, "utf8"));
const tmr = new TaskMockRunner(path.join(taskDir, "index.js"));
for (const [name, value] of Object.entries(scenario.inputs)) tmr.setInput(name, value);
Object.assign(process.env, scenario.env || {});
const kpush = "/opt/kpush/bin/kpush";
// The command line the task builds (tests/task_cluster.test.js runs it with the real kpush).
const { kpushSettings } = require(path.join(taskDir, "settings"));
const { args } = kpushSettings({ manifests: "x", ...scenario.inputs }, null);
tmr.setAnswers({
  which: { kpush },
  checkPath: { [kpush]: true },
  exec: {
    [`${kpush} ${args.join(" ")}`]: {
      code: scenario.kpushExit || 0,
      stdout: scenario.kpushStdout || "",
      stderr: scenario.kpushStderr || "",
    },
  },
});
tmr.run();
