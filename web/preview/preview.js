// The encryption preview page: loads the sealmail `library` component (transpiled by jco,
// its core module inlined, so loading it needs no connection) and wires the two tools to it.
// Everything runs in this browser; the page's Content-Security-Policy (`connect-src 'none'`)
// makes sure nothing a person drops or pastes here can be sent anywhere.

import { byId } from "./dom.js";
import { setUpSealing } from "./seal.js";
import { setUpChecking } from "./check.js";

const status = byId("status");

try {
  // Instantiating compiles the WebAssembly: a moment on a slow device, so the page shows
  // its status meanwhile.
  const component = await import("./sealmail/sealmail.js");
  setUpSealing(component);
  setUpChecking(component);
  for (const id of ["seal-button", "validate-button"]) byId(id).disabled = false;
  status.dataset.state = "ready";
  status.textContent = "Ready. The component runs in this page.";
} catch (error) {
  console.error(error);
  status.dataset.state = "error";
  status.textContent = `The component could not be loaded in this browser (${error?.message ?? error}). A browser with WebAssembly and ES modules is needed: a current Firefox, Chrome, Edge or Safari.`;
}
