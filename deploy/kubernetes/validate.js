#!/usr/bin/env node
// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`)
// for check.sh: every object against its kind's schema with the
// kubernetes-models packages, and relaysync's own rules for its pods.
//
//   node validate.js [--expect=Kind/name ...] [--absent=Kind/name ...]
//                    [--image=NAME --image-user=UID --image-programs=PATH,...]
//                    FILE...
//
// Fails (exit 1) on a schema error, an apiVersion/kind that no installed
// models package knows, an object without a name, a pod rule broken, an
// --expect'ed object missing or an --absent one present, or a container of
// relaysync's image (--image) that runs as another uid or gid than the
// image's USER (--image-user) or a command not in it (--image-programs,
// deploy/container/Containerfile); prints one line
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

// A container of relaysync's image must run as the image's user (so the
// files the image gives that uid are its own) and one of its programs.
function checkImage(c, podSecurity, image, where) {
  if (!image.name || c.image !== image.name) return [];
  image.used++;
  const problems = [];
  const say = (what) => problems.push(`${where}: container ${c.name}: ${what}`);
  const sc = c.securityContext || {};
  for (const key of ["runAsUser", "runAsGroup"]) {
    const id = sc[key] !== undefined ? sc[key] : podSecurity[key];
    if (id !== image.user) say(`${key} ${id}, the image's USER is ${image.user}`);
  }
  const program = (c.command || [])[0];
  if (!image.programs.includes(program)) {
    say(`command ${program} is none of the image's programs (${image.programs.join(", ")})`);
  }
  // The port named metrics is where --metrics-listen listens.
  const metricsPort = (c.ports || []).find((p) => p.name === "metrics");
  const listen = (c.args || []).find((a) => a.startsWith("--metrics-listen="));
  if (metricsPort && !(listen && listen.endsWith(`:${metricsPort.containerPort}`))) {
    say(`port metrics ${metricsPort.containerPort} but ${listen || "no --metrics-listen"}`);
  } else if (listen && !metricsPort) {
    say(`${listen} without a port named metrics`);
  }
  return problems;
}

// Each Service must select some pod template in the same objects, and each
// of its ports reach a port those pods declare (by name or number).
function checkServices(objects) {
  const problems = [];
  const pods = objects
    .filter((o) => kPodTemplateKinds.has(o.kind))
    .map((o) => ({ labels: o.spec.template.metadata.labels || {}, spec: o.spec.template.spec }));
  for (const svc of objects.filter((o) => o.kind === "Service" && o.spec.selector)) {
    const where = `Service/${svc.metadata.name}`;
    const selected = pods.filter((p) =>
      Object.entries(svc.spec.selector).every(([k, v]) => p.labels[k] === v),
    );
    if (selected.length === 0) {
      problems.push(`${where}: selects no pod`);
      continue;
    }
    for (const port of svc.spec.ports || []) {
      const target = port.targetPort !== undefined ? port.targetPort : port.port;
      const found = selected.some((p) =>
        p.spec.containers.some((c) =>
          (c.ports || []).some((cp) => cp.name === target || cp.containerPort === target),
        ),
      );
      if (!found) problems.push(`${where}: port ${port.name} reaches no container port ${target}`);
    }
  }
  return problems;
}

// relaysync's rules for the pods an object makes.
function checkPods(obj, where, image) {
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
    problems.push(...checkImage(c, podSecurity, image, where));
  }
  return problems;
}

function main(argv) {
  const expected = [];
  const absent = [];
  const files = [];
  const image = { name: "", user: NaN, programs: [], used: 0 };
  for (const arg of argv) {
    if (arg.startsWith("--expect=")) expected.push(arg.slice("--expect=".length));
    else if (arg.startsWith("--absent=")) absent.push(arg.slice("--absent=".length));
    else if (arg.startsWith("--image=")) image.name = arg.slice("--image=".length);
    else if (arg.startsWith("--image-user=")) image.user = Number(arg.slice("--image-user=".length));
    else if (arg.startsWith("--image-programs=")) {
      image.programs = arg.slice("--image-programs=".length).split(",");
    } else if (arg.startsWith("--")) {
      console.error(`validate: unknown option ${arg}`);
      return 2;
    } else files.push(arg);
  }
  if (files.length === 0 || (image.name && (!Number.isInteger(image.user) || !image.programs[0]))) {
    console.error(
      "usage: validate.js [--expect=Kind/name ...] [--absent=Kind/name ...] " +
        "[--image=NAME --image-user=UID --image-programs=PATH,...] FILE...",
    );
    return 2;
  }
  const problems = [];
  const seen = new Set();
  let count = 0;
  for (const file of files) {
    const name = path.basename(file);
    const objects = [];
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
      problems.push(...checkPods(obj, where, image));
      objects.push(obj);
    }
    problems.push(...checkServices(objects).map((p) => `${name}: ${p}`));
  }
  for (const id of expected) {
    if (!seen.has(id)) problems.push(`${files.join(" ")}: no ${id}`);
  }
  for (const id of absent) {
    if (seen.has(id)) problems.push(`${files.join(" ")}: ${id} should not be there`);
  }
  if (image.name && image.used === 0) {
    problems.push(`${files.join(" ")}: no container runs ${image.name}`);
  }
  for (const p of problems) console.error(`validate: ${p}`);
  if (problems.length > 0) return 1;
  console.log(`validate: ${files.join(" ")}: ${count} objects valid`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
