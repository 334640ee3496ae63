// A local stand-in for Cloudflare Turnstile's widget script
// (https://challenges.cloudflare.com/turnstile/v0/api.js), served by the
// dev server with BOT_CHECK=turnstile. It renders a small accessible
// "verify you are human" checkbox into each .cf-turnstile element (unless
// the script's URL says ?render=explicit), and window.turnstile.render
// renders one on demand. A click asks the stand-in for a token (POST
// ../token, relative to this script), puts it in a hidden input named
// cf-turnstile-response inside the widget (so inside its form) and calls the
// widget's callback with it. A token is good for one verification within
// 300 seconds; then the widget calls its expired-callback and asks to be
// clicked again. Nothing here talks to Cloudflare.
(function () {
  "use strict";

  if (window.turnstile && window.turnstile.standIn) {
    return; // loaded twice
  }

  var LABEL = "Verify you are human (local stand-in for Cloudflare Turnstile)";
  var DEFAULT_FIELD = "cf-turnstile-response";

  var scriptURL = new URL(currentScriptSrc(), document.baseURI);
  var tokenURL = new URL("../token", scriptURL).href;
  var params = scriptURL.searchParams;

  var widgets = {};
  var order = [];
  var nextId = 0;

  function currentScriptSrc() {
    if (document.currentScript && document.currentScript.src) {
      return document.currentScript.src;
    }
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/turnstile\/v0\/api\.js(\?|#|$)/.test(scripts[i].src)) {
        return scripts[i].src;
      }
    }
    return "/turnstile/v0/api.js";
  }

  // fn resolves a callback given as a function or as the name of a global
  // function (the data-callback form).
  function fn(value) {
    if (typeof value === "function") {
      return value;
    }
    if (typeof value === "string" && value && typeof window[value] === "function") {
      return window[value];
    }
    return null;
  }

  function call(f, arg) {
    if (!f) {
      return;
    }
    try {
      f(arg);
    } catch (err) {
      setTimeout(function () {
        throw err;
      });
    }
  }

  function option(options, data, name, dataName) {
    if (options[name] !== undefined) {
      return options[name];
    }
    return data[dataName];
  }

  function containerOf(container) {
    var el = typeof container === "string" ? document.querySelector(container) : container;
    if (!el || el.nodeType !== 1) {
      throw new Error("turnstile stand-in: no element " + String(container));
    }
    return el;
  }

  function render(container, options) {
    var el = containerOf(container);
    if (el.getAttribute("data-standin-widget-id")) {
      return el.getAttribute("data-standin-widget-id");
    }
    options = options || {};
    var data = el.dataset || {};
    var responseField = option(options, data, "response-field", "responseField");
    var w = {
      id: "cf-standin-" + nextId++,
      el: el,
      sitekey: String(option(options, data, "sitekey", "sitekey") || ""),
      callback: option(options, data, "callback", "callback"),
      expiredCallback: option(options, data, "expired-callback", "expiredCallback"),
      errorCallback: option(options, data, "error-callback", "errorCallback"),
      token: "",
      state: "idle",
      timer: 0,
      generation: 0,
    };
    el.setAttribute("data-standin-widget-id", w.id);

    var box = document.createElement("div");
    box.className = "cf-turnstile-standin";
    var s = box.style;
    s.display = "inline-flex";
    s.flexDirection = "column";
    s.gap = "4px";
    s.boxSizing = "border-box";
    s.minWidth = "300px";
    s.maxWidth = "100%";
    s.padding = "10px 12px";
    s.border = "1px solid #767676";
    s.borderRadius = "4px";
    s.background = "#fafafa";
    s.color = "#1a1a1a";
    s.font = "14px/1.4 system-ui, sans-serif";

    var button = document.createElement("button");
    button.type = "button";
    button.id = w.id + "-button";
    button.setAttribute("role", "checkbox");
    button.setAttribute("aria-checked", "false");
    button.setAttribute("aria-describedby", w.id + "-status");
    var b = button.style;
    b.display = "flex";
    b.alignItems = "center";
    b.gap = "10px";
    b.padding = "6px";
    b.border = "0";
    b.background = "transparent";
    b.color = "inherit";
    b.font = "inherit";
    b.textAlign = "left";
    b.cursor = "pointer";

    var tick = document.createElement("span");
    tick.setAttribute("aria-hidden", "true");
    var t = tick.style;
    t.display = "inline-flex";
    t.flex = "none";
    t.alignItems = "center";
    t.justifyContent = "center";
    t.width = "24px";
    t.height = "24px";
    t.border = "2px solid #1a1a1a";
    t.borderRadius = "3px";
    t.background = "#fff";
    t.fontWeight = "bold";

    var label = document.createElement("span");
    label.textContent = LABEL;

    var status = document.createElement("span");
    status.id = w.id + "-status";
    status.setAttribute("role", "status");
    status.style.minHeight = "1.4em";
    status.style.fontSize = "13px";

    button.appendChild(tick);
    button.appendChild(label);
    box.appendChild(button);
    box.appendChild(status);

    if (responseField !== false && responseField !== "false") {
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = String(option(options, data, "response-field-name", "responseFieldName") || DEFAULT_FIELD);
      box.appendChild(input);
      w.input = input;
    }

    w.box = box;
    w.button = button;
    w.tick = tick;
    w.status = status;
    el.appendChild(box);
    widgets[w.id] = w;
    order.push(w.id);

    button.addEventListener("click", function () {
      verify(w);
    });
    return w.id;
  }

  function show(w, state, message) {
    w.state = state;
    var checked = state === "verified";
    w.button.setAttribute("aria-checked", checked ? "true" : "false");
    w.button.setAttribute("aria-busy", state === "busy" ? "true" : "false");
    // Not disabled while busy: that would take the focus away from it.
    w.button.setAttribute("aria-disabled", state === "busy" ? "true" : "false");
    w.tick.textContent = checked ? "\u2713" : "";
    w.status.textContent = message;
  }

  function setToken(w, token) {
    w.token = token;
    if (w.input) {
      w.input.value = token;
    }
  }

  function verify(w) {
    if (w.state === "busy" || w.state === "verified") {
      return;
    }
    show(w, "busy", "Verifying\u2026");
    var generation = ++w.generation;
    var body = new URLSearchParams();
    body.set("sitekey", w.sitekey);
    body.set("hostname", location.hostname);
    fetch(tokenURL, { method: "POST", body: body, mode: "cors", credentials: "omit", cache: "no-store" })
      .then(function (res) {
        return res.json().then(
          function (answer) {
            return { ok: res.ok, status: res.status, answer: answer || {} };
          },
          function () {
            return { ok: false, status: res.status, answer: {} };
          },
        );
      })
      .then(
        function (r) {
          if (generation !== w.generation || !widgets[w.id]) {
            return; // reset or removed meanwhile
          }
          if (!r.ok || typeof r.answer.token !== "string" || !r.answer.token) {
            fail(w, String(r.status), r.answer.error);
            return;
          }
          setToken(w, r.answer.token);
          show(w, "verified", "Success: you are verified.");
          var ttl = (Number(r.answer.expiresIn) || 300) * 1000;
          w.timer = setTimeout(function () {
            expire(w);
          }, ttl);
          call(fn(w.callback), r.answer.token);
        },
        function () {
          if (generation !== w.generation || !widgets[w.id]) {
            return;
          }
          fail(w, "network", "the stand-in could not be reached");
        },
      );
  }

  function fail(w, code, why) {
    setToken(w, "");
    show(w, "failed", "Verification failed" + (why ? " (" + why + ")" : "") + ". Select the checkbox to try again.");
    call(fn(w.errorCallback), code);
  }

  function expire(w) {
    var token = w.token;
    w.timer = 0;
    setToken(w, "");
    show(w, "expired", "Verification expired. Select the checkbox to verify again.");
    call(fn(w.expiredCallback), token);
  }

  function widgetOf(id) {
    if (id === undefined || id === null) {
      return widgets[order[0]];
    }
    if (typeof id === "string" && widgets[id]) {
      return widgets[id];
    }
    var el = null;
    try {
      el = containerOf(id);
    } catch (err) {
      return undefined;
    }
    return widgets[el.getAttribute("data-standin-widget-id")];
  }

  function reset(id) {
    var w = widgetOf(id);
    if (!w) {
      return;
    }
    clearTimeout(w.timer);
    w.timer = 0;
    w.generation++;
    setToken(w, "");
    show(w, "idle", "");
  }

  function remove(id) {
    var w = widgetOf(id);
    if (!w) {
      return;
    }
    reset(w.id);
    delete widgets[w.id];
    order.splice(order.indexOf(w.id), 1);
    w.el.removeAttribute("data-standin-widget-id");
    if (w.box.parentNode) {
      w.box.parentNode.removeChild(w.box);
    }
  }

  function getResponse(id) {
    var w = widgetOf(id);
    return w && w.token ? w.token : undefined;
  }

  function isExpired(id) {
    var w = widgetOf(id);
    return !!w && w.state === "expired";
  }

  function whenReady(f) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", f);
    } else {
      f();
    }
  }

  function renderAll() {
    var els = document.querySelectorAll(".cf-turnstile");
    for (var i = 0; i < els.length; i++) {
      try {
        render(els[i]);
      } catch (err) {
        setTimeout(function () {
          throw err;
        });
      }
    }
  }

  window.turnstile = {
    standIn: true,
    render: render,
    reset: reset,
    remove: remove,
    getResponse: getResponse,
    isExpired: isExpired,
    execute: function (id) {
      var w = widgetOf(id);
      if (w) {
        verify(w);
      }
    },
    ready: function (f) {
      whenReady(f);
    },
  };

  if (params.get("render") !== "explicit") {
    whenReady(renderAll);
  }
  var onload = params.get("onload");
  if (onload) {
    whenReady(function () {
      call(fn(onload));
    });
  }
})();
