// Small behaviours of the controls, kept out of the HTML: the Content-Security-Policy allows no
// inline script, so no on...= attributes (see docs/security.md).
(() => {
  "use strict";

  // Changes inside [data-keep-changes] (the weight editor, the lesson-link builder) are not
  // settings: they must not reach the playground form, which HTMX posts on every change.
  // Stopped while capturing, before any element sees them: nothing there listens for them.
  window.addEventListener("change", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-keep-changes]")) {
      event.stopPropagation();
    }
  }, true);

  // A slider shows its value (and unit) in the <output> of its control as it moves.
  document.addEventListener("input", (event) => {
    const slider = event.target;
    if (!(slider instanceof HTMLInputElement) || slider.type !== "range") return;
    const output = slider.closest(".control")?.querySelector("output");
    if (output) output.value = slider.value + (slider.dataset.unit || "");
  });
})();
