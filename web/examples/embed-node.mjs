// Embedding the sealmail `library` component in Node.js: validate a JobRequest, generate a
// password, seal files into an AES-256 ZIP. Nothing of sealmail is used but the component
// and its WIT (world `library`: interfaces `validation`, `password`, `archive`).
//
//   cargo xtask build-web                         # jco output in web/dist/node/sealmail/
//   node web/examples/embed-node.mjs REQUEST.json OUT.zip FILE...
//
// In your own project, transpile the published component instead:
//   npm install @bytecodealliance/jco @bytecodealliance/preview2-shim
//   npx jco transpile sealmail.wasm -o sealmail --name sealmail
// and import "./sealmail/sealmail.js". The WIT's kebab-case names become camelCase, u64 is
// a BigInt, enums are strings ("very-high"), an option is `undefined` or the value, and a
// `result` error is thrown as an Error whose `payload` is the WIT variant ({tag, val}).

import { open, readFile, unlink } from "node:fs/promises";
import { basename } from "node:path";

import { archive, password, validation } from "../dist/node/sealmail/sealmail.js";

const [requestFile, outFile, ...files] = process.argv.slice(2);
if (!requestFile || !outFile || files.length === 0) {
  console.error("usage: node embed-node.mjs REQUEST.json OUT.zip FILE...");
  process.exit(2);
}

// 1. Validate the request: the raw bytes, as an HTTP body would arrive.
let summary;
try {
  summary = validation.validate(await readFile(requestFile), validation.defaultLimits());
} catch (e) {
  if (e.payload?.tag !== "invalid") throw e; // not a verdict on the request: a bug
  for (const p of e.payload.val) console.log(`${p.path || "(request)"}: ${p.message} [${p.kind}]`);
  process.exit(1);
}
const sealed = summary.attachments.filter((a) => a.sealed).length;
console.log(
  `${requestFile}: valid, ${summary.messages.length} message(s) to ${summary.envelopeRecipientCount} ` +
    `recipient(s), ${summary.attachments.length} attachment(s) (${sealed} to seal)`,
);
for (const w of summary.warnings) console.log(`  warning ${w.path}: ${w.message}`);

// 2. A fresh password from the component (its randomness is the host's: Node's crypto).
const secret = password.generate("very-high");

// 3. Seal with the streaming resource: one file at a time, fed in chunks, so memory stays
//    bounded by one file's compressed data. Append what end-file and finish return, in
//    call order.
const d = new Date(); // ZIP times are local times
const modified = {
  year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(),
  hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds(),
};
const sealer = archive.Sealer.create(basename(outFile), secret, modified);
const out = await open(outFile, "wx"); // never overwrite
try {
  for (const file of files) {
    const entryName = sealer.beginFile(basename(file)); // sanitized and de-duplicated
    const input = await open(file);
    for await (const chunk of input.createReadStream({ highWaterMark: 1 << 20 })) {
      sealer.write(chunk);
    }
    const [entry, bytes] = sealer.endFile();
    await out.write(bytes);
    console.log(`  sealed ${entryName}: ${entry.size} bytes (${entry.compression})`);
  }
  await out.write(sealer.finish());
  await out.close();
} catch (e) {
  await out.close();
  await unlink(outFile); // no half-written archive
  throw e;
} finally {
  sealer[Symbol.dispose](); // frees the resource inside the component
}

// 4. Give the password to the recipient another way than the archive.
console.log(`archive: ${outFile}`);
console.log(`password: ${secret}`);
