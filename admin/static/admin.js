// Progressive enhancements only: every page works without this script.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="input-id" hidden>. They stay hidden without JavaScript,
  // where the key can still be selected and copied by hand.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var target = document.getElementById(btn.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!target) return;
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var done = function () {
        btn.textContent = "Copied";
        if (status) status.textContent = "The key was copied to the clipboard.";
      };
      var fallback = function () {
        target.focus();
        target.select();
        try {
          if (document.execCommand("copy")) { done(); return; }
        } catch (e) { /* fall through */ }
        if (status) status.textContent = "Copying failed: the key is selected, press Ctrl+C (or ⌘C).";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(target.value).then(done, fallback);
      } else {
        fallback();
      }
    });
  });

  // Select the whole secret when it gets focus, so copying by hand takes one keystroke.
  document.querySelectorAll("input[data-select-on-focus]").forEach(function (el) {
    el.addEventListener("focus", function () { el.select(); });
  });

  // Pages with indexing in progress reload every few seconds to show it, unless a form on them
  // has been touched: a reload would throw away what was typed or chosen. Without the script
  // the page offers a refresh link instead.
  var main = document.getElementById("main");
  var live = main && parseInt(main.getAttribute("data-live"), 10);
  if (live > 0) {
    var touched = false;
    document.querySelectorAll("main form").forEach(function (f) {
      f.addEventListener("input", function () { touched = true; });
      f.addEventListener("change", function () { touched = true; });
      f.addEventListener("submit", function () { touched = true; });
    });
    window.setTimeout(function () {
      if (touched) return;
      // The notice of the action that led here has been read; do not repeat it.
      var u = new URL(window.location.href);
      u.searchParams.delete("notice");
      window.location.replace(u.toString());
    }, live * 1000);
  }

  // An error summary takes focus so that screen readers announce it and keyboard users start there.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) summary.focus();
})();
