// Live preview for the help editors: the server renders the markdown with the API's own renderer
// (apps/helpcenter/rendering.py), so what the preview shows is exactly what GET /api/help/articles/{id} returns.
// The HTML it inserts has been through the same sanitiser (nh3 allow-list) as the API's content_html.
(function () {
  "use strict";

  function csrfToken(textarea) {
    var form = textarea.form;
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function attach(preview) {
    var textarea = document.getElementById(preview.dataset.previewFor);
    var state = document.querySelector('[data-preview-state-for="' + preview.dataset.previewFor + '"]');
    if (!textarea) return;
    var timer = null;
    var sent = 0;

    function show(text) { if (state) state.textContent = text; }

    function render() {
      var ticket = ++sent;
      show("(rendering…)");
      fetch(preview.dataset.previewUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(textarea), "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ body: textarea.value }),
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (ticket !== sent) return; // a newer keystroke is on its way
          preview.innerHTML = data.html;
          preview.dataset.state = "ready";
          show("");
        })
        .catch(function (error) {
          if (ticket !== sent) return;
          preview.dataset.state = "error";
          show("(preview unavailable: " + error.message + ")");
        });
    }

    textarea.addEventListener("input", function () {
      preview.dataset.state = "pending";
      clearTimeout(timer);
      timer = setTimeout(render, 250);
    });
    render();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-preview-for]").forEach(attach);
  });
})();
