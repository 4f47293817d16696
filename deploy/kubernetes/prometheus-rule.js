#!/usr/bin/env node
// One source of truth for the alert rules: the PrometheusRule of
// components/prometheus-operator is deploy/prometheus/alerts.yaml's groups,
// comments and all, inside a PrometheusRule.
//
//   node prometheus-rule.js ALERTS.yaml > components/prometheus-operator/prometheusrule.yaml
//   node prometheus-rule.js --check ALERTS.yaml RENDERED.yaml...
//
// --check (check.sh) fails (exit 1) unless each rendered file (kubectl
// kustomize's output) has one PrometheusRule whose spec.groups equal
// ALERTS.yaml's groups, and says which differs.
"use strict";

const fs = require("fs");
const path = require("path");
const util = require("util");
const YAML = require("yaml");

function readAlerts(file) {
  const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
  if (!doc.has("groups")) throw new Error(`${file}: no groups`);
  return doc;
}

function generate(alertsFile) {
  const alerts = readAlerts(alertsFile);
  const rule = new YAML.Document({
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "relaysync" },
    spec: {},
  });
  rule.setIn(["spec", "groups"], alerts.get("groups", true));
  rule.commentBefore =
    " Made by ../../prometheus-rule.js from deploy/prometheus/alerts.yaml:\n" +
    " do not edit here (check.sh fails when the two differ).";
  return rule.toString({ lineWidth: 80 });
}

function check(alertsFile, renderedFiles) {
  const want = readAlerts(alertsFile).toJS().groups;
  const problems = [];
  for (const file of renderedFiles) {
    const rules = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))
      .map((d) => d.toJS())
      .filter((o) => o && o.kind === "PrometheusRule");
    const name = path.basename(file);
    if (rules.length !== 1) {
      problems.push(`${name}: ${rules.length} PrometheusRules, want 1`);
    } else if (!util.isDeepStrictEqual(rules[0].spec && rules[0].spec.groups, want)) {
      problems.push(
        `${name}: PrometheusRule ${rules[0].metadata.name} differs from ${alertsFile} ` +
          "(node deploy/kubernetes/prometheus-rule.js makes it)",
      );
    }
  }
  for (const p of problems) console.error(`prometheus-rule: ${p}`);
  if (problems.length > 0) return 1;
  console.log(`prometheus-rule: ${renderedFiles.join(" ")}: the rules of ${alertsFile}`);
  return 0;
}

function main(argv) {
  if (argv[0] === "--check" && argv.length >= 3) return check(argv[1], argv.slice(2));
  if (argv.length === 1 && !argv[0].startsWith("--")) {
    process.stdout.write(generate(argv[0]));
    return 0;
  }
  console.error("usage: prometheus-rule.js ALERTS.yaml | --check ALERTS.yaml RENDERED.yaml...");
  return 2;
}

process.exitCode = main(process.argv.slice(2));
