// Type-ahead for the knowledge base: an <input data-kb-suggest> gets, while the visitor
// types, a list of matching articles from /search?format=json right under it. Pages work
// the same without this script.
(function () {
  "use strict";
  document.querySelectorAll("input[data-kb-suggest]").forEach(function (input) {
    var list = document.createElement("ul");
    list.className = "kb-suggest";
    list.setAttribute("aria-live", "polite");
    input.insertAdjacentElement("afterend", list);
    var timer = null, seq = 0;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value;
        var mine = ++seq;
        if (q.trim().length < 3) { list.replaceChildren(); return; }
        fetch("/search?format=json&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { articles: [] }; })
          .then(function (data) {
            if (mine !== seq) { return; }
            list.replaceChildren();
            data.articles.forEach(function (a) {
              var li = document.createElement("li");
              var link = document.createElement("a");
              link.href = a.url;
              link.textContent = a.title;
              li.appendChild(link);
              if (a.summary) {
                var s = document.createElement("span");
                s.className = "meta";
                s.textContent = " — " + a.summary;
                li.appendChild(s);
              }
              list.appendChild(li);
            });
          })
          .catch(function () { list.replaceChildren(); });
      }, 150);
    });
  });
})();
