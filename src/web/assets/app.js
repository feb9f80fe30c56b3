// airlock: keeps the pending queue live. The page works without it.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  if (!queue) return;
  var live = document.getElementById("live");
  var refreshing = false;
  function refresh() {
    if (refreshing) return;
    refreshing = true;
    fetch(queue.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { if (r.ok) return r.text(); throw new Error(r.status); })
      .then(function (html) { queue.innerHTML = html; })
      .catch(function () {})
      .then(function () { refreshing = false; });
  }
  if (window.EventSource) {
    var events = new EventSource("/events");
    events.addEventListener("open", function () { if (live) live.classList.add("on"); });
    events.addEventListener("error", function () { if (live) live.classList.remove("on"); });
    events.addEventListener("hold", refresh);
  }
  // Holds made by other airlock processes arrive without an event here.
  setInterval(refresh, 10000);
})();
