// The lesson page around the playground (app/routes/lessons.py). playground.js points the address
// bar at the playground's own link (/?<query>); on a lesson page it must stay on the lesson
// (/lessons/<n>?<query>), so that a reload, or a session that expired, comes back to the same
// lesson with the student's changes. The language links and the page title follow it.
(() => {
  "use strict";

  const page = document.querySelector(".lesson-page");
  if (!page) return;

  function lessonUrl(lang) {
    const state = JSON.parse(document.getElementById("playground-state").textContent);
    return `${page.dataset.lessonPath}?${state.query}&lang=${lang || state.lang}`;
  }

  function keepLesson() {
    window.history.replaceState(null, "", lessonUrl());
    document.title = page.dataset.lessonTitle;
    document.querySelectorAll(".lesson-languages a[data-lang]").forEach((link) => {
      link.href = lessonUrl(link.dataset.lang);
    });
  }

  // Registered after playground.js's own listeners (this script comes later), so these run last.
  document.addEventListener("DOMContentLoaded", keepLesson);
  document.addEventListener("htmx:afterSettle", keepLesson);
  // The server answers a change with HX-Replace-Url "/?<query>": point it at the lesson instead.
  document.body.addEventListener("htmx:beforeHistoryUpdate", (event) => {
    event.detail.history.path = lessonUrl();
  });
})();
