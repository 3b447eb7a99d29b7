// Reports: SLA compliance by priority and customer (charts and a table), and a statement.
"use strict";

(() => {
  const { api, h, duration, time, params } = Board;
  const period = document.getElementById("period");
  const today = new Date();
  const iso = (d) => d.toISOString().slice(0, 10);
  period.elements.from.value = params.get("from") || iso(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)));
  period.elements.to.value = params.get("to") || iso(today);
  period.elements.customer_id.value = params.get("customer_id") || "";
  const statementForm = document.getElementById("statement-form");
  statementForm.elements.month.value = params.get("month") || iso(today).slice(0, 7);
  statementForm.elements.customer_id.value = params.get("statement") || "";

  const charts = {};
  const percent = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 10);

  function chart(canvasId, groups) {
    const labels = Object.keys(groups);
    const data = {
      labels,
      datasets: [
        { label: "response %", data: labels.map((g) => percent(groups[g].response.compliance)), backgroundColor: "#3b82f6" },
        { label: "resolution %", data: labels.map((g) => percent(groups[g].resolution.compliance)), backgroundColor: "#10b981" },
      ],
    };
    if (charts[canvasId]) {
      charts[canvasId].data = data;
      charts[canvasId].update();
      return;
    }
    charts[canvasId] = new Chart(document.getElementById(canvasId), {
      type: "bar",
      data,
      options: {
        animation: false,
        scales: { y: { min: 0, max: 100, title: { display: true, text: "compliance %" } } },
      },
    });
  }

  function rows(name, group) {
    return ["response", "resolution"].map((metric) => {
      const s = group[metric];
      return h("tr", {},
        h("td", {}, name), h("td", {}, group.tickets), h("td", {}, metric),
        h("td", {}, s.met), h("td", {}, s.breached),
        h("td", {}, s.compliance === null ? "—" : `${percent(s.compliance)}%`),
        h("td", {}, s.p50_seconds === null ? "—" : duration(s.p50_seconds)),
        h("td", {}, s.p90_seconds === null ? "—" : duration(s.p90_seconds)));
    });
  }

  async function loadReport() {
    const query = new URLSearchParams({ from: period.elements.from.value, to: period.elements.to.value });
    if (period.elements.customer_id.value.trim()) query.set("customer_id", period.elements.customer_id.value.trim());
    const report = await api("GET", `/reports/sla?${query}`);
    document.getElementById("report-summary").textContent =
      `${report.tickets} tickets from ${time(report.from, "UTC")} to ${time(report.to, "UTC")}`;
    chart("chart-priority", report.by_priority);
    chart("chart-customer", report.by_customer);
    document.querySelector("#report-table tbody").replaceChildren(
      ...rows("all", { tickets: report.tickets, response: report.response, resolution: report.resolution }),
      ...Object.entries(report.by_priority).flatMap(([name, g]) => rows(name, g)),
      ...Object.entries(report.by_customer).flatMap(([name, g]) => rows(`customer ${name}`, g)),
    );
  }

  function keepInUrl() {
    const query = new URLSearchParams({ from: period.elements.from.value, to: period.elements.to.value });
    if (period.elements.customer_id.value.trim()) query.set("customer_id", period.elements.customer_id.value.trim());
    if (statementForm.elements.customer_id.value.trim()) query.set("statement", statementForm.elements.customer_id.value.trim());
    query.set("month", statementForm.elements.month.value);
    history.replaceState(null, "", `?${query}`);
  }

  async function loadStatement() {
    const customer = statementForm.elements.customer_id.value.trim();
    if (!customer) return;
    const box = document.getElementById("statement");
    const error = document.getElementById("statement-error");
    try {
      const s = await api("GET", `/customers/${encodeURIComponent(customer)}/statement?month=${statementForm.elements.month.value}`);
      error.hidden = true;
      const money = (v) => (v === null || v === undefined ? "—" : `${v} ${s.currency || "%"}`);
      const av = s.availability || {};
      document.getElementById("statement-fields").replaceChildren(
        ...[["customer", s.customer_id], ["month", s.month], ["monthly fee", money(s.monthly_fee)],
          ["tickets", s.tickets], ["breaches", s.breaches],
          // The API gives uptime and target as percentages (Decimal strings).
          ["availability", av.uptime === undefined ? "—" : `${av.uptime}% (target ${av.target}%, ${av.met ? "met" : "missed"}, ${av.downtime_seconds}s down)`],
          ["availability credit", av.credit_percent === undefined ? "—" : `${av.credit_percent}%`],
          ["credit total", `${money(s.credit_total)}${s.credit_capped ? " (capped)" : ""}`],
          ["rewards", s.rewards.map((r) => `${r.amount} ${r.unit}`).join(", ") || "none"],
        ].flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
      );
      document.querySelector("#statement-credits tbody").replaceChildren(
        ...(s.credits.length ? s.credits.map((c) => h("tr", {},
          h("td", {}, c.ticket_id || "—"), h("td", {}, c.kind), h("td", {}, c.metric),
          h("td", {}, c.amount), h("td", {}, c.unit), h("td", {}, time(c.at))))
          : [h("tr", {}, h("td", { colSpan: 6, class: "muted" }, "No credits this month."))]),
      );
      box.hidden = false;
    } catch (e) {
      box.hidden = true;
      error.hidden = false;
      error.textContent = e.message;
    }
  }

  const refresh = Board.poll(async () => {
    try {
      await loadReport();
    } catch (error) {
      if (error.status === 401) throw error;
      document.getElementById("report-summary").textContent = `No report: ${error.message}`;
    }
    await loadStatement();
  }, 60);
  period.addEventListener("submit", (event) => {
    event.preventDefault();
    keepInUrl();
    refresh();
  });
  statementForm.addEventListener("submit", (event) => {
    event.preventDefault();
    keepInUrl();
    loadStatement();
  });
})();
