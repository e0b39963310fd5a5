// Drives the browser encryption preview (/preview/) in Debian's Chromium with playwright-core,
// as a person would, and prints one JSON object with everything it saw; the Rust test
// (tests/it/preview_browser.rs) decides whether that is right. This script only fails when
// the page cannot be driven (an element never appears, the component does not load, …).
//
//   node web/tests/preview.mjs BASE_URL OUT_DIR MANIFEST_JSON
//
// MANIFEST_JSON names the inputs:
//   { "files": [{ "name", "path" }, …],      sealed at both viewports
//     "extraFile": { "name", "path" },       picked and removed again at 1280 px, sealed at 390 px
//     "wide":   { "strength", "archiveName" }, "narrow": { "strength", "archiveName" },
//     "invalidRequest": path, "validRequest": path }
// OUT_DIR receives wide.zip, narrow.zip, preview-1280.png, preview-390.png (and failure-*.png).
//
// Every request of the browser context is recorded from its start (before the first
// navigation), with its method, URL, resource type, whether it had a body and its status,
// together with WebSockets, console errors (CSP violations are reported there) and uncaught
// page errors.

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

/** Chromium is slow to start, and the component slow to compile, while the other core builds. */
const PATIENCE_MS = 60_000;

const [base, outDir, manifestPath] = process.argv.slice(2);
if (!base || !outDir || !manifestPath) {
  console.error("usage: node web/tests/preview.mjs BASE_URL OUT_DIR MANIFEST_JSON");
  process.exit(2);
}
const manifest = JSON.parse(await readFile(manifestPath, "utf8"));
const origin = new URL(base).origin;
const pageUrl = `${origin}/preview/`;

const profile = await mkdtemp(path.join(tmpdir(), "sealmail-preview-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 800 },
  deviceScaleFactor: 1,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
  ],
});
context.setDefaultTimeout(PATIENCE_MS);
// The Copy button writes the password to the clipboard; reading it back needs permission.
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });

const requests = [];
const webSockets = [];
const consoleErrors = [];
const pageErrors = [];
context.on("request", (request) => {
  const body = request.postDataBuffer();
  requests.push({
    request,
    method: request.method(),
    url: request.url(),
    resourceType: request.resourceType(),
    hasBody: body !== null && body.length > 0,
    isNavigation: request.isNavigationRequest(),
  });
});
const watch = (page, label) => {
  page.on("websocket", (ws) => webSockets.push(ws.url()));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(`${label}: ${message.text()}`);
  });
  page.on("pageerror", (error) => pageErrors.push(`${label}: ${error.message}`));
};

let current = null;
try {
  const result = { pageUrl, runs: [] };

  // 1280 × 800: pick files (and remove one again), seal, download; check two JobRequests.
  const wide = context.pages()[0] ?? (await context.newPage());
  current = wide;
  watch(wide, "1280");
  const response = await wide.goto(pageUrl);
  result.pageStatus = response?.status() ?? null;
  result.csp = response?.headers()["content-security-policy"] ?? null;
  await waitReady(wide);

  await wide.setInputFiles("#file-input", await Promise.all([...manifest.files, manifest.extraFile].map(payload)));
  await wide.click(`#file-list li[data-name="${cssString(manifest.extraFile.name)}"] button`);
  result.runs.push(await sealFlow(wide, "1280", manifest.wide));

  await wide.fill("#request-json", await readFile(manifest.invalidRequest, "utf8"));
  await wide.click("#validate-button");
  await wide.waitForSelector('#validation-result[data-outcome="invalid"]');
  result.invalid = {
    headline: await text(wide, "#validation-headline"),
    problems: await wide.$$eval("#problems li[data-path]", (items) =>
      items.map((li) => ({ path: li.dataset.path, kind: li.dataset.kind, message: li.querySelector(".issue-message")?.textContent })),
    ),
  };
  // The file loader validates as soon as the file is read.
  await wide.setInputFiles("#request-file", manifest.validRequest);
  await wide.waitForSelector('#validation-result[data-outcome="valid"]');
  result.valid = await wide.evaluate(() => {
    const attribute = (selector, name) => document.querySelector(`#summary ${selector}`)?.getAttribute(name) ?? null;
    return {
      headline: document.getElementById("validation-headline").textContent,
      messages: Number(attribute("[data-messages]", "data-messages")),
      messagesShown: document.querySelectorAll("#summary .message-list > li").length,
      sealedCount: Number(attribute("[data-sealed-count]", "data-sealed-count")),
      sealedShown: Array.from(document.querySelectorAll('#summary [data-attachment][data-sealed="true"]'), (li) => li.dataset.attachment),
      attachmentsShown: document.querySelectorAll("#summary [data-attachment]").length,
      archiveName: attribute("[data-archive-name]", "data-archive-name"),
      passwordSubject: attribute("[data-password-subject]", "data-password-subject"),
      callbackUrl: attribute("[data-callback-url]", "data-callback-url"),
      problemsShown: document.querySelectorAll("#problems li").length,
      warnings: Array.from(document.querySelectorAll("#warnings li[data-path]"), (li) => li.dataset.path),
    };
  });
  result.runs[0].overflow = await overflow(wide);
  result.runs[0].screenshot = path.join(outDir, "preview-1280.png");
  await wide.screenshot({ path: result.runs[0].screenshot, fullPage: true });

  // 390 × 844, a fresh page: files dropped onto the zone (DataTransfer) and one picked (the
  // long name), sealed, downloaded; then the invalid request again, for long JSON paths.
  const narrow = await context.newPage();
  current = narrow;
  watch(narrow, "390");
  await narrow.setViewportSize({ width: 390, height: 844 });
  await narrow.goto(pageUrl);
  await waitReady(narrow);
  await drop(narrow, "#drop-zone", await Promise.all(manifest.files.map(payload)));
  await narrow.setInputFiles("#file-input", await payload(manifest.extraFile));
  result.runs.push(await sealFlow(narrow, "390", manifest.narrow));
  await narrow.fill("#request-json", await readFile(manifest.invalidRequest, "utf8"));
  await narrow.click("#validate-button");
  await narrow.waitForSelector('#validation-result[data-outcome="invalid"]');
  result.runs[1].problemsShown = await narrow.locator("#problems li[data-path]").count();
  result.runs[1].overflow = await overflow(narrow);
  result.runs[1].screenshot = path.join(outDir, "preview-390.png");
  await narrow.screenshot({ path: result.runs[1].screenshot, fullPage: true });

  current = null;
  result.requests = await Promise.all(
    requests.map(async ({ request, ...seen }) => ({ ...seen, status: (await request.response().catch(() => null))?.status() ?? null })),
  );
  await context.close();
  result.webSockets = webSockets;
  result.consoleErrors = consoleErrors;
  result.pageErrors = pageErrors;
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  console.error(`preview.mjs: ${error?.stack ?? error}`);
  console.error(`console errors: ${JSON.stringify(consoleErrors)}\npage errors: ${JSON.stringify(pageErrors)}`);
  if (current) {
    const shot = path.join(outDir, "failure.png");
    await current.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`screenshot of the page at the failure: ${shot}`);
    console.error(`status: ${await current.textContent("#status", { timeout: 1000 }).catch(() => "?")}`);
    console.error(`seal error: ${await current.textContent("#seal-error", { timeout: 1000 }).catch(() => "?")}`);
  }
  await context.close().catch(() => {});
  process.exitCode = 1;
} finally {
  await rm(profile, { recursive: true, force: true });
}

/** Waits for the component to load; fails with the page's own message if it did not. */
async function waitReady(page) {
  await page.waitForSelector('#status:not([data-state="loading"])');
  const state = await page.getAttribute("#status", "data-state");
  if (state !== "ready") throw new Error(`the component did not load: ${await text(page, "#status")}`);
}

/** Chooses strength and archive name, seals what is in the list, downloads the archive. */
async function sealFlow(page, label, { strength, archiveName }) {
  const listed = await page.$$eval("#file-list li", (items) => items.map((li) => li.dataset.name));
  await page.selectOption("#strength", strength);
  await page.fill("#archive-name", archiveName);
  const shownName = await text(page, "#archive-name-normalized");
  await page.click("#seal-button");
  await page.waitForSelector("#seal-result:not([hidden])");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
  const archive = path.join(outDir, label === "1280" ? "wide.zip" : "narrow.zip");
  await download.saveAs(archive);
  const password = await page.inputValue("#password");
  await page.click("#copy-password");
  await page.waitForFunction(() => document.getElementById("copy-status").textContent !== "");
  const clipboard = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `(unreadable: ${e.message})`);
  return {
    label,
    viewport: page.viewportSize(),
    strength,
    listed,
    shownName,
    downloadAttribute: await page.getAttribute("#download", "download"),
    suggestedFilename: download.suggestedFilename(),
    archive,
    password,
    entriesShown: await page.$$eval("#entry-list li", (items) => items.map((li) => li.dataset.entry)),
    progress: {
      value: await page.$eval("#seal-progress", (p) => p.value),
      text: await text(page, "#progress-text"),
    },
    copyStatus: await text(page, "#copy-status"),
    clipboard,
    sealError: (await page.isVisible("#seal-error")) ? await text(page, "#seal-error") : null,
  };
}

/** Drops `files` onto `selector` the way a drag from the desktop arrives: a DataTransfer. */
async function drop(page, selector, files) {
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const { name, mimeType, base64 } of list) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], name, { type: mimeType }));
    }
    return transfer;
  }, files.map(({ name, mimeType, buffer }) => ({ name, mimeType, base64: buffer.toString("base64") })));
  for (const type of ["dragenter", "dragover", "drop"]) {
    await page.dispatchEvent(selector, type, { dataTransfer });
  }
  await dataTransfer.dispose();
}

/** A file for setInputFiles / drop. */
async function payload({ name, path: file }) {
  return { name, mimeType: "application/octet-stream", buffer: await readFile(file) };
}

/** The document's widths, and the elements that stick out to the right (for the report). */
function overflow(page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    const limit = root.clientWidth + 0.5;
    const culprits = [];
    for (const element of document.body.querySelectorAll("*")) {
      const box = element.getBoundingClientRect();
      if (box.width > 0 && box.right > limit && culprits.length < 10) {
        culprits.push(`${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}.${element.className} right=${Math.round(box.right)}`);
      }
    }
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, viewport: window.innerWidth, culprits };
  });
}

async function text(page, selector) {
  return (await page.textContent(selector))?.trim() ?? null;
}

/** `value` inside a double-quoted CSS attribute selector. */
function cssString(value) {
  return value.replace(/["\\]/g, "\\$&");
}
