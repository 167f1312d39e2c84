// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Countdowns: <span data-countdown="2026-11-23T12:00:00Z">…</span> shows mm:ss left.
  function tickCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(end)) return;
      var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      if (left === 0 && el.dataset.expiredText) el.textContent = el.dataset.expiredText;
    });
  }
  setInterval(tickCountdowns, 1000);

  // Waiting rooms: <form data-autosubmit="2500"> sends itself again after that many milliseconds.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    var delay = parseInt(form.getAttribute("data-autosubmit"), 10) || 3000;
    window.setTimeout(function () { form.submit(); }, delay);
  });

  // Presale: the order button follows the server's clock, which the live part of the launch page reports.
  document.addEventListener("htmx:afterSettle", function () {
    var live = document.getElementById("presale-live");
    var button = document.querySelector("[data-presale-order]");
    if (live && button) button.disabled = live.getAttribute("data-open") !== "true";
  });

  // Confirmation before destructive actions: <form data-confirm="Are you sure?">.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // Prevent double submission: disable submit buttons once a form is sent (server is idempotent anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-get") || form.hasAttribute("hx-post")) return;
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
    }, 0);
  });

  // Auto-submit selects marked data-autosubmit when JS is on (the noscript button covers the rest).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("[data-autosubmit]") && el.form && !el.form.hasAttribute("hx-get")) el.form.submit();
  });

  // Panels marked data-open-wide (the listing filters) start open on wide screens, folded on phones.
  document.addEventListener("DOMContentLoaded", function () {
    if (window.matchMedia("(min-width: 860px)").matches) {
      document.querySelectorAll("details[data-open-wide]").forEach(function (d) { d.open = true; });
    }
  });

  document.addEventListener("DOMContentLoaded", tickCountdowns);

  // Colour swatches (.paint-picker radios) repaint the drawings in their gallery, name the colour, and carry
  // it in the page address and in the quote and reserve links (a[data-paint-link]); without JS the form asks
  // the server for the page in that colour.
  document.addEventListener("change", function (event) {
    var radio = event.target;
    if (!radio.matches || !radio.matches(".paint-picker input[name=colour]")) return;
    var scope = radio.closest("[data-paint-scope]") || document;
    scope.querySelectorAll("svg .paint").forEach(function (part) { part.setAttribute("fill", radio.dataset.hex); });
    scope.querySelectorAll("svg[aria-label]").forEach(function (svg) {
      var label = svg.getAttribute("aria-label"), old = svg.dataset.paintedAs || radio.form.dataset.paintedAs;
      if (old && label.indexOf(old) !== -1) svg.setAttribute("aria-label", label.replace(old, radio.dataset.name));
      svg.dataset.paintedAs = radio.dataset.name;
    });
    radio.form.dataset.paintedAs = radio.dataset.name;
    scope.querySelectorAll("[data-paint-name]").forEach(function (el) { el.textContent = radio.dataset.name; });
    document.querySelectorAll("a[data-paint-link]").forEach(function (link) {
      var url = new URL(link.href, window.location.href);
      url.searchParams.set("colour", radio.value);
      link.href = url.pathname + url.search + url.hash;
    });
    var here = new URL(window.location.href);
    here.searchParams.set("colour", radio.value);
    window.history.replaceState(window.history.state, "", here.pathname + here.search + here.hash);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".paint-picker").forEach(function (form) {
      var chosen = form.querySelector("input[name=colour]:checked");
      if (chosen) form.dataset.paintedAs = chosen.dataset.name;
    });
  });

  // Sign-in links marked data-next-here come back to the page as it is now: htmx steps (city, showroom, day)
  // have changed the address since the link was drawn, and a chosen test-drive time is kept as slot=.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-next-here]");
    if (!link) return;
    var here = new URL(window.location.href);
    var slot = document.querySelector("input[name=starts_at]:checked");
    if (slot) here.searchParams.set("slot", slot.value);
    here.searchParams.delete("partial");
    var target = new URL(link.href, window.location.href);
    target.searchParams.set("next", here.pathname + here.search);
    link.href = target.pathname + target.search;
  });
})();
