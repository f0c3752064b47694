// Draws the chart of a stored query. The Vega-Lite spec comes from the query's `chart` in
// metadata.yaml (rendered into data-spec by templates/query.html); the rows are the same query's
// JSON, so the chart always shows exactly what the table below it shows.
(function () {
  const box = document.querySelector("[data-chart-spec]");
  if (!box) return;
  // Between the query form and the rows it draws (the template can only put it before or after both).
  document.querySelector(".export-links")?.before(box);
  const url = new URL(box.dataset.json, window.location.href);
  url.searchParams.set("_shape", "array");
  fetch(url)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(r.status + " " + r.statusText))))
    .then((rows) => {
      const spec = JSON.parse(box.dataset.chartSpec);
      spec.data = { values: rows };
      spec.width = "container";
      box.dataset.points = String(rows.length);
      if (!rows.length) {
        box.textContent = "Geen gegevens voor deze grafiek.";
        return null;
      }
      return vegaEmbed(box, spec, { renderer: "svg", actions: { export: true, source: false, compiled: false, editor: false } });
    })
    .then(() => box.setAttribute("data-rendered", "1"))
    .catch((error) => {
      box.textContent = "De grafiek kon niet worden getekend: " + error.message;
      box.setAttribute("data-rendered", "error");
    });
})();
