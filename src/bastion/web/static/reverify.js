// Passkey re-verification (/web/reverify): the session moved to a new network and the user
// confirms it is them. An external file: the Content-Security-Policy allows no inline script.
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

  async function verify(button) {
    if (typeof PublicKeyCredential !== "function" || typeof PublicKeyCredential.parseRequestOptionsFromJSON !== "function") {
      show("This browser cannot use passkeys here.", true);
      return;
    }
    button.disabled = true;
    show("Waiting for your passkey…", false);
    try {
      const next = button.getAttribute("data-next") || "/web";
      const options = await post("/web/reverify/passkey/options");
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
      const credential = await navigator.credentials.get({ publicKey: publicKey });
      if (!credential) throw new Error("No passkey was chosen.");
      const result = await post("/web/reverify/passkey?next=" + encodeURIComponent(next), credential.toJSON());
      show("Confirmed.", false);
      go(result.redirect || "/web");
    } catch (error) {
      show((error && error.message) || "Something went wrong with the passkey.", true);
      button.disabled = false;
    }
  }

  const button = document.getElementById("passkey-reverify");
  if (button) button.addEventListener("click", function () { verify(button); });
})();
