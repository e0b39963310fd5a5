// "Check a JobRequest": the pasted or loaded bytes go through the component's
// `validation.validate` with the server's default limits — the same code and the same
// limits the server applies at `POST /rest/v1/jobs` — and the page shows the problems
// (JSON path, kind, message) or a preview of what the server would send. Secrets in the
// request (callback header values, Basic credentials, attachment contents) are never shown.

import { byId, el, fill, formatBytes, plural } from "./dom.js";

const STRENGTH_NAMES = { medium: "Medium", high: "High", "very-high": "Very high", maximum: "Maximum" };

/** Wires the section to the loaded component (`{ validation, password }`). */
export function setUpChecking({ validation, password }) {
  const limits = validation.defaultLimits();
  const textarea = byId("request-json");
  const fileInput = byId("request-file");
  // A loaded file is validated as its exact bytes (so a file that is not UTF-8 is reported
  // as such) until the text is edited.
  let loaded = null;

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files?.[0];
    fileInput.value = "";
    if (!file) return;
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      textarea.value = new TextDecoder().decode(bytes);
      textarea.scrollTop = 0;
      loaded = { name: file.name, bytes, text: textarea.value };
      byId("request-source").textContent = `Loaded ${file.name} (${formatBytes(bytes.length)})`;
      check();
    } catch (error) {
      showHeadline("error", `“${file.name}” could not be read: ${error.message}`);
    }
  });
  textarea.addEventListener("input", () => {
    if (loaded && textarea.value !== loaded.text) {
      loaded = null;
      byId("request-source").textContent = "";
    }
  });
  byId("check-form").addEventListener("submit", (event) => {
    event.preventDefault();
    check();
  });

  function check() {
    const bytes = loaded ? loaded.bytes : new TextEncoder().encode(textarea.value);
    resetResult();
    if (bytes.length === 0) {
      showHeadline("error", "Paste a JobRequest or load a file first.");
      return;
    }
    let summary;
    try {
      summary = validation.validate(bytes, limits);
    } catch (error) {
      if (error?.payload?.tag === "invalid") {
        showProblems(error.payload.val);
      } else {
        console.error(error);
        showHeadline("error", `The component failed: ${error?.message ?? error}. Reload the page and try again.`);
      }
      return;
    }
    showSummary(summary, password);
  }
}

function resetResult() {
  for (const id of ["problems-box", "warnings-box", "summary"]) byId(id).hidden = true;
  fill(byId("problems"));
  fill(byId("warnings"));
  fill(byId("summary"));
}

function showHeadline(outcome, text) {
  const result = byId("validation-result");
  result.dataset.outcome = outcome;
  const headline = byId("validation-headline");
  headline.className = `message ${outcome === "valid" ? "success" : "error"}`;
  headline.textContent = text;
  result.hidden = false;
  result.focus();
}

function showProblems(problems) {
  fill(byId("problems"), problems.map((p) => issueItem(p)));
  byId("problems-box").hidden = false;
  showHeadline(
    "invalid",
    `${plural(problems.length, "problem")}: the server would refuse this request (400 Bad Request).`,
  );
}

function issueItem({ path, kind, message }) {
  return el(
    "li",
    { data: { path, kind } },
    el(
      "p",
      { class: "issue-head" },
      el("code", { class: "json-path" }, path === "" ? "(the whole document)" : path),
      el("span", { class: `badge kind` }, kind),
    ),
    el("p", { class: "issue-message" }, message),
  );
}

function showSummary(s, password) {
  const summary = byId("summary");
  const sealed = s.attachments.filter((a) => a.sealed);
  const secure = s.secureDocument;
  fill(
    summary,
    facts([
      ["From", mailbox(s.headerFrom)],
      s.sender.address !== s.headerFrom.address || s.sender.name !== s.headerFrom.name
        ? ["Envelope sender", mailbox(s.sender)]
        : null,
      ["Subject", s.subject],
      ["Body", s.bodyContentType],
      ["Virus scan", s.antivirus ? "yes, before anything is sealed or sent" : "no"],
      ["Size per message", `about ${formatBytes(s.estimatedMessageBytes)}`],
      s.referenceJob ? ["Reference", s.referenceJob] : null,
      s.costCenter ? ["Cost centre", s.costCenter] : null,
      s.campaignId ? ["Campaign", s.campaignId] : null,
    ]),

    el(
      "h3",
      {},
      el("span", { data: { messages: s.messages.length } }, String(s.messages.length)),
      ` ${s.messages.length === 1 ? "message" : "messages"}`,
      el("span", { class: "muted" }, ` · one per recipient block, ${plural(s.envelopeRecipientCount, "envelope recipient")}`),
    ),
    el(
      "ol",
      { class: "message-list" },
      s.messages.map((m, i) =>
        el(
          "li",
          { data: { block: m.block, recipients: m.envelopeRecipients.length } },
          el("p", { class: "message-title" }, `Message ${i + 1}`, el("span", { class: "muted" }, ` · /recipients/${m.block}`)),
          facts([
            m.to.length ? ["To", m.to.map(mailbox).join(", ")] : null,
            m.cc.length ? ["Cc", m.cc.map(mailbox).join(", ")] : null,
            m.bcc.length ? ["Bcc", m.bcc.map(mailbox).join(", ")] : null,
            m.reference ? ["Reference", m.reference] : null,
          ]),
        ),
      ),
    ),

    el(
      "h3",
      {},
      "Attachments ",
      el(
        "span",
        { class: "muted" },
        "· ",
        el("span", { data: { sealedCount: sealed.length } }, String(sealed.length)),
        ` of ${s.attachments.length} sealed`,
      ),
    ),
    s.attachments.length === 0
      ? el("p", { class: "muted" }, "None.")
      : el(
          "ul",
          { class: "attachment-list" },
          s.attachments.map((a) =>
            el(
              "li",
              { data: { attachment: a.name, sealed: a.sealed } },
              el("span", { class: "file-name" }, a.name),
              el("span", { class: "file-size" }, `${a.contentType}, ${formatBytes(a.size)}`),
              el("span", { class: `badge ${a.sealed ? "sealed" : "plain"}` }, a.sealed ? "sealed" : "plain"),
            ),
          ),
        ),

    el("h3", {}, "Secure Document Handling"),
    secure
      ? facts([
          ["Archive", el("span", { data: { archiveName: secure.archiveName } }, secure.archiveName)],
          [
            "Password",
            `${STRENGTH_NAMES[secure.strength] ?? secure.strength}, ${password.length(secure.strength)} characters, generated when the job runs`,
          ],
          [
            "Password mail",
            el("span", {}, "“", el("span", { data: { passwordSubject: secure.passwordMailSubject } }, secure.passwordMailSubject), "” — sent to each recipient after the original was delivered"),
          ],
        ])
      : el("p", { class: "muted" }, "Off: attachments are sent as they are, and there is no password mail."),

    el("h3", {}, "Callback"),
    s.callback
      ? facts([
          ["URL", el("span", { data: { callbackUrl: s.callback.url } }, s.callback.url)],
          s.callback.headers.length ? ["Headers", s.callback.headers.map(([name]) => name).join(", ")] : null,
          s.callback.basicAuth ? ["Authentication", "Basic (credentials not shown)"] : null,
        ])
      : el("p", { class: "muted" }, "None: follow the job with GET /rest/v1/jobs/{jobId}."),
  );
  summary.hidden = false;

  if (s.warnings.length) {
    fill(byId("warnings"), s.warnings.map((w) => issueItem(w)));
    byId("warnings-box").hidden = false;
  }
  const warnings = s.warnings.length ? ` with ${plural(s.warnings.length, "warning")}` : "";
  showHeadline("valid", `Valid${warnings}: the server would accept this request and send the following.`);
}

/** A definition list of `[term, description]` pairs (null pairs are skipped). */
function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([term, description]) => el("div", {}, el("dt", {}, term), el("dd", {}, description))),
  );
}

function mailbox({ name, address }) {
  return name ? `${name} <${address}>` : address;
}
