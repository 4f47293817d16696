#!/usr/bin/env node
// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`)
// for check.sh: every object against its kind's schema with the
// kubernetes-models packages, and relaysync's own rules for its pods.
//
//   node validate.js [--expect=Kind/name ...] [--absent=Kind/name ...] FILE...
//
// Fails (exit 1) on a schema error, an apiVersion/kind that no installed
// models package knows, an object without a name, a pod rule broken, an
// --expect'ed object missing or an --absent one present; prints one line
// per problem, naming the file and the object. The models come from
// node_modules beside this file (npm ci).
"use strict";

const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

// Packages tried in order for apiVersion/kind: the Kubernetes API itself,
// then the custom resources relaysync's manifests use.
const kModelPackages = [
  "kubernetes-models",
  "@kubernetes-models/cert-manager",
  "@kubernetes-models/prometheus-operator",
];

// Containers that are not relaysync's to harden: the example mail
// container stands for the operator's own sendmail + Dovecot image.
const kOperatorContainers = new Set(["mta"]);

const kPodTemplateKinds = new Set([
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "Job",
  "ReplicaSet",
]);

// Returns the model class for obj's apiVersion and kind, or null.
function findModel(apiVersion, kind) {
  if (!/^[A-Za-z0-9.\/-]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) {
    return null;
  }
  for (const pkg of kModelPackages) {
    let mod;
    try {
      mod = require(`${pkg}/${apiVersion}/${kind}`);
    } catch (e) {
      if (e.code === "MODULE_NOT_FOUND") continue;
      if (e.code === "ERR_PACKAGE_PATH_NOT_EXPORTED") continue;
      throw e;
    }
    if (typeof mod[kind] === "function") return mod[kind];
  }
  return null;
}

// Checks the pod rules on one container; returns the problems found.
function checkContainer(c, podSecurity, where) {
  const problems = [];
  const say = (what) => problems.push(`${where}: container ${c.name}: ${what}`);
  const req = (c.resources && c.resources.requests) || {};
  const lim = (c.resources && c.resources.limits) || {};
  if (!req.cpu || !req.memory) say("needs resources.requests cpu and memory");
  if (!lim.memory) say("needs resources.limits.memory");
  if (kOperatorContainers.has(c.name)) return problems;

  const sc = c.securityContext || {};
  if (sc.allowPrivilegeEscalation !== false) {
    say("needs securityContext.allowPrivilegeEscalation: false");
  }
  if (sc.readOnlyRootFilesystem !== true) {
    say("needs securityContext.readOnlyRootFilesystem: true");
  }
  if (sc.privileged) say("must not be privileged");
  const caps = sc.capabilities || {};
  if (!(caps.drop || []).includes("ALL")) {
    say('needs securityContext.capabilities.drop: ["ALL"]');
  }
  const added = caps.add || [];
  const nonRoot =
    sc.runAsNonRoot !== undefined ? sc.runAsNonRoot : podSecurity.runAsNonRoot;
  if (nonRoot !== true) {
    // The one exception: an init container that runs as root only to give
    // a folder to the agent's uid, with no capability but CHOWN.
    const chownOnly = added.length === 1 && added[0] === "CHOWN";
    if (!(c.init && chownOnly)) {
      say("needs runAsNonRoot: true (root only for a CHOWN-only init container)");
    }
  } else if (added.length > 0) {
    say(`adds capabilities ${added.join(",")}`);
  }
  return problems;
}

// relaysync's rules for the pods an object makes.
function checkPods(obj, where) {
  if (!kPodTemplateKinds.has(obj.kind)) return [];
  const pod = obj.spec.template.spec;
  const podSecurity = pod.securityContext || {};
  const problems = [];
  if (pod.automountServiceAccountToken !== false) {
    problems.push(`${where}: needs automountServiceAccountToken: false (no API access)`);
  }
  const containers = [
    ...(pod.initContainers || []).map((c) => ({ ...c, init: true })),
    ...pod.containers,
  ];
  for (const c of containers) {
    problems.push(...checkContainer(c, podSecurity, where));
  }
  return problems;
}

function main(argv) {
  const expected = [];
  const absent = [];
  const files = [];
  for (const arg of argv) {
    if (arg.startsWith("--expect=")) expected.push(arg.slice("--expect=".length));
    else if (arg.startsWith("--absent=")) absent.push(arg.slice("--absent=".length));
    else if (arg.startsWith("--")) {
      console.error(`validate: unknown option ${arg}`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0) {
    console.error("usage: validate.js [--expect=Kind/name ...] [--absent=Kind/name ...] FILE...");
    return 2;
  }
  const problems = [];
  const seen = new Set();
  let count = 0;
  for (const file of files) {
    const name = path.basename(file);
    const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    for (const doc of docs) {
      if (doc.errors.length > 0) {
        problems.push(`${name}: YAML: ${doc.errors[0].message}`);
        continue;
      }
      const obj = doc.toJS();
      if (obj === null || obj === undefined) continue;
      count++;
      const id = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
      const where = `${name}: ${id}`;
      seen.add(id);
      if (!obj.metadata || !obj.metadata.name) {
        problems.push(`${where}: no metadata.name`);
      }
      if (obj.kind === "Secret" && obj.data) {
        // kustomize folds long base64 values over several lines; the API
        // server's decoder (Go's encoding/base64) skips the line breaks,
        // the models' base64 pattern does not.
        for (const k of Object.keys(obj.data)) {
          obj.data[k] = String(obj.data[k]).replace(/[\r\n]/g, "");
        }
      }
      const Model = findModel(String(obj.apiVersion), String(obj.kind));
      if (Model === null) {
        problems.push(`${where}: unknown kind ${obj.apiVersion} ${obj.kind} (no kubernetes-models class)`);
        continue;
      }
      try {
        new Model(obj).validate();
      } catch (e) {
        problems.push(`${where}: schema: ${e.message}`);
        continue;
      }
      problems.push(...checkPods(obj, where));
    }
  }
  for (const id of expected) {
    if (!seen.has(id)) problems.push(`${files.join(" ")}: no ${id}`);
  }
  for (const id of absent) {
    if (seen.has(id)) problems.push(`${files.join(" ")}: ${id} should not be there`);
  }
  for (const p of problems) console.error(`validate: ${p}`);
  if (problems.length > 0) return 1;
  console.log(`validate: ${files.join(" ")}: ${count} objects valid`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
