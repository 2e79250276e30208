// The study dashboard's script (a static file: the Content-Security-Policy allows no inline script).
(function () {
  // Confirm before a transition; refresh the live part of the page every few seconds.
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });
  const live = document.getElementById("live");
  function refresh() {
    fetch(live.dataset.url, {credentials: "same-origin"})
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { live.innerHTML = html; })
      .catch(() => {})
      .finally(() => window.setTimeout(refresh, Number(live.dataset.every)));
  }
  window.setTimeout(refresh, Number(live.dataset.every));
})();
