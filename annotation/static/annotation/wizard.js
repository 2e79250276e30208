// The study wizard's script (a static file: the Content-Security-Policy allows no inline script).
(function () {
  // The live item count: ask the server what the benchmark and the ticked categories pick.
  const form = document.getElementById("wizard");
  const count = document.getElementById("item-count");
  const thumbs = document.getElementById("item-thumbs");
  const ids = document.getElementById("id_items");
  function refresh() {
    if (ids.value.trim()) { count.textContent = "the listed ids"; thumbs.replaceChildren(); return; }
    const params = new URLSearchParams();
    params.set("benchmark", form.elements["benchmark"].value);
    form.querySelectorAll("input[type=checkbox][name^=items_]:checked").forEach(
      (box) => params.append(box.name, box.value));
    fetch(form.dataset.preview + "?" + params.toString(), {credentials: "same-origin"})
      .then((r) => r.json())
      .then((data) => {
        count.textContent = String(data.count);
        thumbs.replaceChildren(...data.items.map((item) => {
          const figure = document.createElement("figure");
          const img = document.createElement("img");
          img.src = item.overlay; img.alt = item.id; img.loading = "lazy";
          const caption = document.createElement("figcaption");
          caption.textContent = item.id;
          figure.append(img, caption);
          return figure;
        }));
      });
  }
  form.addEventListener("change", (event) => {
    const name = event.target.name || "";
    if (name === "benchmark" || name.startsWith("items")) refresh();
  });
  refresh();
})();
