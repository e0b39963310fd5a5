// The preview page: everything runs in this browser, in the sealmail library component.
import { password } from "./sealmail/sealmail.js";

document.getElementById("status").textContent = `Ready (sample password: ${password.generate("very-high")})`;
