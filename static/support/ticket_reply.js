// Shows the chosen macro's text under the select (read-only preview: the server sends the macro itself).
(function () {
  "use strict";
  var data = document.getElementById("macro-previews");
  var select = document.getElementById("id_macro");
  var preview = document.getElementById("macro-preview");
  if (!data || !select || !preview) return;
  var macros = JSON.parse(data.textContent);
  select.addEventListener("change", function () {
    var macro = macros[select.value];
    preview.hidden = !macro;
    preview.textContent = macro ? macro.body + (macro.set_status ? "\n\n(then sets status: " + macro.set_status + ")" : "") : "";
  });
})();
