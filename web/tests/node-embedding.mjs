// The Node.js embedding test driver, run by tests/it/node_embedding.rs.
//
// It calls the `library` component through the jco output (web/dist/node, built by
// `cargo xtask build-web`) and nothing else of sealmail: every name below comes from the
// WIT. The Rust test compares what it prints with the wasmtime host.
//
// Usage: node web/tests/node-embedding.mjs [JOBS.json]   (standard input without a file)
//
// The job list:
//   {
//     "outputDir": "/tmp/…",                              archives are written here
//     "requests": [{"id": "…", "path": "job.json",        JobRequest files to validate
//                   "limits": {"maxRequestBytes": 3000}}], limits: optional, over defaultLimits()
//     "archives": [{"id": "…", "method": "sealer" | "seal",
//                   "archiveName": "Unterlagen", "files": ["a.pdf", …],
//                   "strength": "very-high",              optional (WIT enum name)
//                   "chunkBytes": 1048576}]               optional, for "sealer"
//   }
//
// Prints one JSON document on stdout:
//   {
//     "validations": [{"id", "path", "outcome"}],   outcome: exactly the JSON of the host's
//                                                   sealmail::validation_json::outcome
//     "archives": [{"id", "method", "path", "name", "password", "passwordLength",
//                   "entries": [{"name", "size", "storedSize", "compression"}]}]
//   }
// Anything unexpected (an unknown enum name, a password of the wrong length, a u64 beyond
// 2^53, an error other than `invalid`) ends the process with a message on stderr and exit 1.

import { open, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const jcoOutput = new URL("../dist/node/sealmail/sealmail.js", import.meta.url);
const { archive, password, validation } = await import(jcoOutput).catch((e) => {
  fail(`cannot load ${fileURLToPath(jcoOutput)} (run \`cargo xtask build-web\`): ${e.message}`);
});

function fail(message) {
  process.stderr.write(`node-embedding: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------
// The validation outcome as host/sandbox/src/validation_json.rs prints it. The component's records
// arrive with camelCase keys already (jco's mapping of the WIT's kebab-case fields, which
// matches the host's JSON names); what differs is spelled out here:
//   - option<T> is `undefined` in JS and `null` in the host's JSON;
//   - u64 is a BigInt in JS and a number in JSON;
//   - strength is `very_high` (the request format's name) where the WIT says `very-high`;
//   - the callback shows header *names* only and `"BASIC"` instead of the credentials;
//   - kinds are the WIT names, checked against the lists below so that a new case in the
//     WIT cannot slip through unmapped.

const PROBLEM_KINDS = new Set([
  "malformed-json", "not-utf8", "too-large", "duplicate-key", "missing", "null-value",
  "empty-value", "wrong-type", "too-long", "too-many", "invalid-value", "invalid-address",
  "invalid-encoding", "header-injection", "invalid-header-name", "invalid-url",
  "unsupported", "rule-violation",
]);
const WARNING_KINDS = new Set(["ignored-key", "ignored-value", "alias"]);
const STRENGTH_NAMES = { medium: "medium", high: "high", "very-high": "very_high", maximum: "maximum" };

function known(set, value, what) {
  if (!set.has(value)) fail(`unknown ${what} ${JSON.stringify(value)}`);
  return value;
}

function optional(value, convert = (v) => v) {
  return value === undefined ? null : convert(value);
}

function u64(value) {
  if (typeof value !== "bigint") fail(`expected a u64 (BigInt), got ${typeof value}`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`u64 ${value} does not fit a JSON number exactly`);
  return Number(value);
}

const mailbox = (m) => ({ name: optional(m.name), address: m.address });

const problem = (p) => ({ path: p.path, kind: known(PROBLEM_KINDS, p.kind, "problem kind"), message: p.message });

const warning = (w) => ({ path: w.path, kind: known(WARNING_KINDS, w.kind, "warning kind"), message: w.message });

function strengthName(s) {
  if (!Object.hasOwn(STRENGTH_NAMES, s)) fail(`unknown strength ${JSON.stringify(s)}`);
  return STRENGTH_NAMES[s];
}

function summary(s) {
  return {
    sender: mailbox(s.sender),
    headerFrom: mailbox(s.headerFrom),
    subject: s.subject,
    bodyContentType: s.bodyContentType,
    messages: s.messages.map((m) => ({
      block: m.block,
      to: m.to.map(mailbox),
      cc: m.cc.map(mailbox),
      bcc: m.bcc.map(mailbox),
      envelopeRecipients: m.envelopeRecipients,
      reference: optional(m.reference),
    })),
    envelopeRecipientCount: s.envelopeRecipientCount,
    attachments: s.attachments.map((a) => ({
      index: a.index,
      name: a.name,
      contentType: a.contentType,
      size: u64(a.size),
      sealed: a.sealed,
    })),
    secureDocument: optional(s.secureDocument, (d) => ({
      archiveName: d.archiveName,
      strength: strengthName(d.strength),
      subjectPrefix: d.subjectPrefix,
      passwordMailSubject: d.passwordMailSubject,
    })),
    antivirus: s.antivirus,
    callback: optional(s.callback, (e) => ({
      url: e.url,
      headers: e.headers.map(([name]) => name),
      authentication: optional(e.basicAuth, () => "BASIC"),
    })),
    referenceJob: optional(s.referenceJob),
    costCenter: optional(s.costCenter),
    campaignId: optional(s.campaignId),
    estimatedMessageBytes: u64(s.estimatedMessageBytes),
    warnings: s.warnings.map(warning),
  };
}

// `validate` returns the summary or throws jco's ComponentError carrying the WIT error
// variant in `.payload`; anything else thrown is a trap or a bug and is not caught.
function outcome(bytes, limits) {
  try {
    return { valid: true, summary: summary(validation.validate(bytes, limits)) };
  } catch (e) {
    if (e?.payload?.tag !== "invalid") throw e;
    return { valid: false, problems: e.payload.val.map(problem) };
  }
}

function limitsFor(overrides = {}) {
  const limits = validation.defaultLimits();
  if (overrides.maxRequestBytes !== undefined) limits.maxRequestBytes = BigInt(overrides.maxRequestBytes);
  if (overrides.maxMessageBytes !== undefined) limits.maxMessageBytes = BigInt(overrides.maxMessageBytes);
  if (overrides.maxAddresses !== undefined) limits.maxAddresses = overrides.maxAddresses;
  if (overrides.maxRenderedBytes !== undefined) limits.maxRenderedBytes = BigInt(overrides.maxRenderedBytes);
  return limits;
}

// ---------------------------------------------------------------------------------------
// Sealing.

const entryJson = (e) => ({ name: e.name, size: u64(e.size), storedSize: u64(e.storedSize), compression: e.compression });

function now() {
  const d = new Date();
  return {
    year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(),
    hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(),
  };
}

function freshPassword(strength) {
  const secret = password.generate(strength);
  const length = password.length(strength);
  if ([...secret].length !== length) {
    fail(`password.generate(${strength}) gave ${[...secret].length} characters, password.length says ${length}`);
  }
  return { secret, length };
}

// The streaming resource: each file read and fed in chunks, the archive written piece by
// piece as `end-file` and `finish` return it.
async function sealStreaming(job, secret, outputDir) {
  const sealer = archive.Sealer.create(job.archiveName, secret, now());
  const chunkBytes = job.chunkBytes ?? 1 << 20;
  const name = sealer.archiveName();
  if (name !== archive.archiveFileName(job.archiveName)) {
    fail(`Sealer.archiveName() ${name} differs from archiveFileName(): ${archive.archiveFileName(job.archiveName)}`);
  }
  const path = join(outputDir, name);
  const out = await open(path, "wx");
  const entries = [];
  try {
    for (const file of job.files) {
      const entryName = sealer.beginFile(basename(file));
      const input = await open(file, "r");
      try {
        const buffer = new Uint8Array(chunkBytes);
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, chunkBytes, null);
          if (bytesRead === 0) break;
          sealer.write(buffer.subarray(0, bytesRead));
        }
      } finally {
        await input.close();
      }
      const [entry, bytes] = sealer.endFile();
      if (entry.name !== entryName) fail(`beginFile said ${entryName}, endFile ${entry.name}`);
      entries.push(entryJson(entry));
      await out.write(bytes);
    }
    await out.write(sealer.finish());
  } finally {
    await out.close();
    sealer[Symbol.dispose]();
  }
  return { name, path, entries };
}

// Everything at once: `seal` takes the whole files and returns the whole archive.
async function sealAtOnce(job, secret, outputDir) {
  const files = await Promise.all(job.files.map(async (f) => ({ name: basename(f), content: await readFile(f) })));
  const sealed = archive.seal(job.archiveName, files, secret, now());
  const path = join(outputDir, sealed.name);
  await writeFile(path, sealed.bytes, { flag: "wx" });
  return { name: sealed.name, path, entries: sealed.entries.map(entryJson) };
}

async function seal(job, outputDir) {
  const strength = job.strength ?? "very-high";
  const { secret, length } = freshPassword(strength);
  const method = job.method ?? "sealer";
  let made;
  try {
    if (method === "sealer") made = await sealStreaming(job, secret, outputDir);
    else if (method === "seal") made = await sealAtOnce(job, secret, outputDir);
    else fail(`unknown method ${JSON.stringify(method)}`);
  } catch (e) {
    // A seal-error variant arrives as a ComponentError with the variant in `.payload`.
    if (e?.payload?.tag) fail(`${job.id}: seal-error ${e.payload.tag}${e.payload.val ? `: ${e.payload.val}` : ""}`);
    throw e;
  }
  return { id: job.id, method, strength, password: secret, passwordLength: length, ...made };
}

// ---------------------------------------------------------------------------------------

async function readJobs() {
  const file = process.argv[2];
  if (file && file !== "-") return JSON.parse(await readFile(file, "utf8"));
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

const jobs = await readJobs();
const validations = [];
for (const request of jobs.requests ?? []) {
  const bytes = await readFile(request.path);
  validations.push({ id: request.id, path: request.path, outcome: outcome(bytes, limitsFor(request.limits)) });
}
const archives = [];
for (const job of jobs.archives ?? []) {
  if (!jobs.outputDir) fail("archives need an outputDir");
  archives.push(await seal(job, jobs.outputDir));
}
process.stdout.write(`${JSON.stringify({ validations, archives })}\n`);
