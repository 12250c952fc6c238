// Passkey sign-in (MFA step) and registration ("My security"), with the WebAuthn JSON helpers.
// Loaded as an external file: the Content-Security-Policy allows no inline script.
"use strict";

(function () {
  const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function show(text, isError) {
    const status = document.getElementById("passkey-status");
    if (!status) return;
    status.textContent = text;
    status.classList.toggle("status-error", Boolean(isError));
    if (isError) status.setAttribute("data-state", "error");
    else status.removeAttribute("data-state");
  }

  function supported() {
    return (
      typeof window.PublicKeyCredential === "function" &&
      typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function" &&
      typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function"
    );
  }

  // Only same-origin targets: a reply must never send the browser to another site.
  function go(target) {
    const url = new URL(target, window.location.origin);
    if (url.origin !== window.location.origin) throw new Error("The server sent an unexpected address.");
    window.location.assign(url.href);
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign({ "X-CSRF-Token": csrfToken() }, JSON_HEADERS),
      body: JSON.stringify(body === undefined ? {} : body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok || !data || data.error) {
      const message = data && (data.message || data.error);
      throw new Error(typeof message === "string" && message ? message : "The server refused the request; please reload the page.");
    }
    return data;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
    if (error && error.name === "InvalidStateError") return "This passkey is already registered.";
    if (error && error.name === "SecurityError") return "Passkeys are not allowed on this address.";
    return (error && error.message) || "Something went wrong with the passkey.";
  }

  async function login(button) {
    button.disabled = true;
    show("Waiting for your passkey…", false);
    try {
      const options = await post("/web/login/mfa/passkey/options");
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
      const credential = await navigator.credentials.get({ publicKey: publicKey });
      if (!credential) throw new Error("No passkey was chosen.");
      const result = await post("/web/login/mfa/passkey", credential.toJSON());
      show("Signed in.", false);
      go(result.redirect || "/web");
    } catch (error) {
      show(explain(error), true);
      button.disabled = false;
    }
  }

  async function register(button) {
    const input = document.getElementById("passkey-name");
    const name = input ? input.value.trim() : "";
    if (!name) {
      show("Give the new passkey a name first.", true);
      if (input) input.focus();
      return;
    }
    button.disabled = true;
    show("Follow your browser's instructions to create the passkey…", false);
    try {
      const options = await post("/web/security/passkeys/options");
      const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
      const credential = await navigator.credentials.create({ publicKey: publicKey });
      if (!credential) throw new Error("No passkey was created.");
      const url = "/web/security/passkeys/register?name=" + encodeURIComponent(name);
      const result = await post(url, credential.toJSON());
      show("Passkey added.", false);
      if (result.redirect) go(result.redirect);
      else window.location.reload();
    } catch (error) {
      show(explain(error), true);
      button.disabled = false;
    }
  }

  function wire(id, action) {
    const button = document.getElementById(id);
    if (!button) return;
    if (!supported()) {
      button.disabled = true;
      show("This browser cannot use passkeys here.", true);
      return;
    }
    button.addEventListener("click", function () {
      action(button);
    });
  }

  function start() {
    wire("passkey-login", login);
    wire("passkey-add", register);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
