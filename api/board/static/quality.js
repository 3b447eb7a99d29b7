// Quality on the reports page: CSAT and reopen rate by month (the last six) and by resolving
// agent (the period of the form above), and a table of the four figures by group.
"use strict";

(() => {
  const { api, h } = Board;
  const period = document.getElementById("period");
  const charts = {};
  const percent = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);
  const shown = (v) => (v === null || v === undefined ? "—" : `${percent(v)}%`);

  function chart(canvasId, labels, qualities, type) {
    const data = {
      labels,
      datasets: [
        { label: "CSAT %", data: qualities.map((q) => percent(q.csat)), backgroundColor: "#3b82f6", borderColor: "#3b82f6" },
        { label: "reopen rate %", data: qualities.map((q) => percent(q.reopen_rate)), backgroundColor: "#f59e0b", borderColor: "#f59e0b" },
      ],
    };
    if (charts[canvasId]) {
      charts[canvasId].data = data;
      charts[canvasId].update();
      return;
    }
    charts[canvasId] = new Chart(document.getElementById(canvasId), {
      type,
      data,
      options: { animation: false, scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } },
    });
  }

  // The first and last day of each of the six months up to this one, as the API takes them.
  function lastMonths() {
    const now = new Date();
    return [5, 4, 3, 2, 1, 0].map((back) => {
      const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
      const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0));
      return [first.toISOString().slice(0, 7), first.toISOString().slice(0, 10), last.toISOString().slice(0, 10)];
    });
  }

  function row(name, quality) {
    return h("tr", { "data-group": name },
      h("td", {}, name), h("td", {}, quality.ratings), h("td", {}, shown(quality.csat)),
      h("td", {}, shown(quality.reopen_rate)), h("td", {}, shown(quality.first_contact_resolution)));
  }

  async function load() {
    const customer = period.elements.customer_id.value.trim();
    const scoped = (query) => {
      if (customer) query.set("customer_id", customer);
      return query;
    };
    const months = lastMonths();
    const [current, ...monthly] = await Promise.all([
      api("GET", `/reports/sla?${scoped(new URLSearchParams({ from: period.elements.from.value, to: period.elements.to.value }))}`),
      ...months.map(([, from, to]) => api("GET", `/reports/sla?${scoped(new URLSearchParams({ from, to }))}`)),
    ]);
    chart("chart-quality-month", months.map(([label]) => label), monthly.map((r) => r.quality), "line");
    const agents = Object.keys(current.by_agent);
    chart("chart-quality-agent", agents, agents.map((a) => current.by_agent[a].quality), "bar");
    document.querySelector("#quality-table tbody").replaceChildren(
      row("all", current.quality),
      ...months.map(([label], i) => row(label, monthly[i].quality)),
      ...agents.map((a) => row(`agent ${a}`, current.by_agent[a].quality)),
    );
  }

  const refresh = Board.poll(async () => {
    try {
      await load();
    } catch (error) {
      if (error.status === 401) throw error;
    }
  }, 60);
  period.addEventListener("submit", () => refresh());
})();
