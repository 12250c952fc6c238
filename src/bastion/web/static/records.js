// Many2one pickers of the records forms: a search box that refills the <select> with the
// names the server finds (GET /web/records/<model>/names?q=...). Without script the select
// still offers the first names. Loaded as an external file: the CSP allows no inline script.
"use strict";

(function () {
  const DELAY_MS = 250;

  function option(value, label, selected) {
    const item = document.createElement("option");
    item.value = value;
    item.textContent = label;
    item.selected = selected;
    return item;
  }

  function refill(select, results) {
    const current = select.value;
    const kept = Array.from(select.options).find((o) => o.value === current && current !== "");
    const items = [option("", "—", current === "")];
    if (kept) items.push(option(kept.value, kept.textContent, true));
    for (const [id, name] of results) {
      const value = String(id);
      if (kept && value === kept.value) continue;
      items.push(option(value, name, false));
    }
    select.replaceChildren(...items);
  }

  async function lookup(url, text, status) {
    const target = new URL(url, window.location.origin);
    if (target.origin !== window.location.origin) throw new Error("unexpected address");
    target.searchParams.set("q", text);
    const response = await fetch(target.href, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || "The search failed.");
    status.textContent = body.results.length ? "" : "Nothing found.";
    return body.results;
  }

  function enhance(select) {
    const url = select.getAttribute("data-picker");
    if (!url) return;
    const search = document.createElement("input");
    search.type = "search";
    search.className = "picker-search";
    search.placeholder = "Type to find…";
    search.setAttribute("aria-label", "Find a record for " + (select.labels[0]?.textContent || "").trim());
    search.setAttribute("data-testid", "picker-search-" + select.name);
    search.autocomplete = "off";
    const status = document.createElement("small");
    status.className = "status";
    status.setAttribute("role", "status");
    select.before(search);
    select.after(status);
    let timer = 0;
    let asked = 0;
    search.addEventListener("input", () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(async () => {
        const mine = ++asked;
        try {
          const results = await lookup(url, search.value.trim(), status);
          if (mine === asked) refill(select, results);
          select.setAttribute("data-loaded", search.value.trim());
        } catch (error) {
          status.textContent = error.message;
          status.classList.add("status-error");
        }
      }, DELAY_MS);
    });
  }

  document.querySelectorAll("select[data-picker]").forEach(enhance);
})();
