// Report progress: poll the report's API every second and move the bar; reload when it is finished.
(function () {
  "use strict";
  var box = document.getElementById("report-progress");
  if (!box) { return; }
  var bar = document.getElementById("report-progress-bar");
  var percent = document.getElementById("report-progress-percent");
  var step = document.getElementById("report-progress-step");
  function poll() {
    fetch(box.dataset.url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (report) {
        bar.value = report.progress;
        bar.textContent = report.progress + "%";
        percent.textContent = report.progress + "%";
        step.textContent = report.step || "waiting for a worker";
        if (report.state === "done" || report.state === "failed") {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
