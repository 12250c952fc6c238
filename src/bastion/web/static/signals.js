// Browser signals for the sign-in form (bastion.web.risk_signals reads them).
//
// Counts pointer and key events, measures the time from page load to submit, and notes what
// automation leaves behind (navigator.webdriver, a headless User-Agent, client hints that
// disagree with the User-Agent, an empty plugin list on desktop Chrome, a zero-size window).
// On submit it writes one JSON report into the hidden field "bastion_signals". No data leaves
// the page any other way, and nothing here is trusted for more than a hint: the server binds the
// report to this device and page load with a nonce, and clamps every value.
(function () {
  "use strict";

  var MAX_COUNT = 100000;
  var MAX_TEXT = 512;
  var counts = { pointer: 0, keys: 0 };

  function bump(name) {
    return function () {
      if (counts[name] < MAX_COUNT) {
        counts[name] += 1;
      }
    };
  }

  function clip(text) {
    return String(text === undefined || text === null ? "" : text).slice(0, MAX_TEXT);
  }

  var options = { capture: true, passive: true };
  var pointerEvents = window.PointerEvent
    ? ["pointerdown", "pointermove"]
    : ["mousedown", "mousemove", "touchstart"];
  pointerEvents.concat(["wheel"]).forEach(function (type) {
    document.addEventListener(type, bump("pointer"), options);
  });
  document.addEventListener("keydown", bump("keys"), options);

  var agent = navigator.userAgent || "";
  var chromeVersion = /(?:Chrome|Chromium)\/(\d+)/.exec(agent);
  var mobile = /Mobi|Android|iPhone|iPad/.test(agent);

  // User-Agent client hints (Chromium) against the User-Agent string and navigator.platform.
  function uaMismatch() {
    var data = navigator.userAgentData;
    var platform = navigator.platform || "";
    var mismatch = false;
    if (/^Win/.test(platform) && !/Windows/.test(agent)) mismatch = true;
    if (/^Mac/.test(platform) && !/Mac OS X|Macintosh|iPhone|iPad/.test(agent)) mismatch = true;
    if (/^Linux/.test(platform) && !/Linux|Android|X11|CrOS/.test(agent)) mismatch = true;
    if (!data) {
      return mismatch;
    }
    var brands = (data.brands || []).map(function (b) {
      return { brand: String(b.brand), version: String(b.version) };
    });
    var chromium = brands.filter(function (b) {
      return b.brand === "Chromium" || b.brand === "Google Chrome";
    })[0];
    if (chromium) {
      if (!chromeVersion) mismatch = true;
      else if (chromium.version !== chromeVersion[1]) mismatch = true;
    }
    var tokens = {
      Windows: /Windows/,
      macOS: /Mac OS X|Macintosh/,
      Linux: /Linux|X11/,
      Android: /Android/,
      "Chrome OS": /CrOS/,
      ChromeOS: /CrOS/,
      iOS: /iPhone|iPad|iPod/,
    };
    var expected = tokens[data.platform];
    if (expected && !expected.test(agent)) mismatch = true;
    if (typeof data.mobile === "boolean" && data.mobile && !mobile) mismatch = true;
    return mismatch;
  }

  function automationGlobals() {
    var names = [
      "callPhantom", "_phantom", "__nightmare", "domAutomation", "domAutomationController",
      "_selenium", "__webdriver_evaluate", "__selenium_unwrapped", "__playwright",
      "__pwInitScripts", "__puppeteer_evaluation_script__", "_Selenium_IDE_Recorder",
    ];
    for (var i = 0; i < names.length; i += 1) {
      if (names[i] in window) return true;
    }
    try {
      for (var key in document) {
        if (/^\$?cdc_|^\$wdc_/.test(key)) return true;
      }
    } catch (error) {
      return false;
    }
    return false;
  }

  function hints() {
    var found = [];
    var desktopChrome = !!chromeVersion && !mobile && !/Edg\//.test(agent);
    if (/Headless/i.test(agent)) found.push("headless-ua");
    if (desktopChrome && navigator.plugins && navigator.plugins.length === 0) {
      found.push("no-plugins");
    }
    if (window.outerWidth === 0 || window.outerHeight === 0) found.push("zero-outer-size");
    if (!navigator.languages || navigator.languages.length === 0) found.push("no-languages");
    if (desktopChrome && !window.chrome) found.push("no-window-chrome");
    if (automationGlobals()) found.push("automation-globals");
    if (chromeVersion && +chromeVersion[1] >= 90 && window.isSecureContext && !mobile &&
        !navigator.userAgentData) {
      found.push("ua-ch-missing");
    }
    return found;
  }

  function stable() {
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      zone = "";
    }
    var screenInfo = window.screen || {};
    return clip([
      screenInfo.width + "x" + screenInfo.height,
      screenInfo.colorDepth,
      zone,
      (navigator.languages || []).join(","),
      navigator.platform,
      navigator.hardwareConcurrency,
      navigator.deviceMemory,
      navigator.maxTouchPoints,
    ].join("|"));
  }

  function report() {
    return JSON.stringify({
      v: 1,
      webdriver: navigator.webdriver === true,
      pointer: counts.pointer,
      keys: counts.keys,
      fill_ms: Math.round(window.performance ? performance.now() : 0),
      ua: clip(agent),
      ua_mismatch: uaMismatch(),
      hints: hints(),
      stable: stable(),
    });
  }

  function attach() {
    var fields = document.querySelectorAll('input[type="hidden"][name="bastion_signals"]');
    Array.prototype.forEach.call(fields, function (field) {
      if (!field.form) return;
      field.form.addEventListener("submit", function () {
        try {
          field.value = report();
        } catch (error) {
          field.value = "";
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", attach);
  } else {
    attach();
  }
})();
