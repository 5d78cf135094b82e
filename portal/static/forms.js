// Small helps for the portal's forms; every form works the same without this script.
// - A file input marked data-drop also takes files dropped onto its form, added to the
//   ones already chosen.
// - In a textarea marked data-ctrl-enter, Ctrl+Enter (Cmd+Enter on a Mac) sends the form.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-drop]").forEach(function (input) {
    var zone = input.form;
    if (!zone || typeof DataTransfer === "undefined") { return; }
    zone.addEventListener("dragover", function (e) {
      if (e.dataTransfer && Array.prototype.indexOf.call(e.dataTransfer.types, "Files") >= 0) {
        e.preventDefault();
        zone.classList.add("dropping");
      }
    });
    zone.addEventListener("dragleave", function (e) {
      if (e.target === zone) { zone.classList.remove("dropping"); }
    });
    zone.addEventListener("drop", function (e) {
      if (!e.dataTransfer || e.dataTransfer.files.length === 0) { return; }
      e.preventDefault();
      zone.classList.remove("dropping");
      var all = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (f) { all.items.add(f); });
      Array.prototype.forEach.call(e.dataTransfer.files, function (f) { all.items.add(f); });
      input.files = all.files;
    });
  });
  document.querySelectorAll("textarea[data-ctrl-enter]").forEach(function (area) {
    area.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && area.form) {
        e.preventDefault();
        if (area.form.requestSubmit) { area.form.requestSubmit(); } else { area.form.submit(); }
      }
    });
  });
})();
