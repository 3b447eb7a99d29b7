// The queue: open tickets by nearest due time, polled from GET /tickets and GET /tickets/{id}.
"use strict";

(() => {
  const { api, h, clockView, params } = Board;
  const OPEN_STATUSES = ["open", "responded", "waiting_on_customer"];
  const MAX_ROWS = 200;
  const filters = document.getElementById("filters");
  const FILTER_NAMES = ["priority", "customer_id", "breached", "assignee"];

  for (const name of FILTER_NAMES) filters.elements[name].value = params.get(name) || "";

  function currentFilters() {
    const out = {};
    for (const name of FILTER_NAMES) {
      const value = filters.elements[name].value.trim();
      if (value) out[name] = value;
    }
    return out;
  }

  function nearestDue(ticket) {
    const dues = [ticket.response, ticket.resolution]
      .filter((c) => c.due_at && !c.completed_at)
      .map((c) => Date.parse(c.due_at));
    return dues.length ? Math.min(...dues) : Infinity;
  }

  async function load() {
    await Board.loadWarnAt();
    const wanted = currentFilters();
    const query = new URLSearchParams({ page_size: String(MAX_ROWS) });
    for (const name of ["priority", "customer_id", "breached"]) {
      if (wanted[name]) query.set(name, wanted[name]);
    }
    const pages = await Promise.all(
      OPEN_STATUSES.map((status) => api("GET", `/tickets?status=${status}&${query}`)),
    );
    const ids = [...new Set(pages.flatMap((page) => page.tickets.map((t) => t.ticket_id)))];
    const details = await Promise.all(
      ids.slice(0, MAX_ROWS).map((id) =>
        api("GET", `/tickets/${encodeURIComponent(id)}`).catch((error) => {
          if (error.status === 404) return null; // closed and gone between the two calls
          throw error;
        }),
      ),
    );
    const tickets = details
      .filter((t) => t && OPEN_STATUSES.includes(t.status))
      .filter((t) => !wanted.assignee || t.assignee === wanted.assignee)
      .sort((a, b) => nearestDue(a) - nearestDue(b) || a.ticket_id.localeCompare(b.ticket_id));
    render(tickets);
  }

  function render(tickets) {
    const body = document.getElementById("queue-rows");
    if (!tickets.length) {
      body.replaceChildren(h("tr", {}, h("td", { colSpan: 7, class: "muted" }, "No open tickets.")));
      return;
    }
    body.replaceChildren(
      ...tickets.map((t) =>
        h(
          "tr",
          { "data-ticket-id": t.ticket_id, "data-status": t.status, class: t.ever_breached ? "was-breached" : "" },
          h("td", {}, h("a", { href: `/board/tickets/${encodeURIComponent(t.ticket_id)}` }, t.ticket_id),
            h("div", { class: "muted small" }, t.title)),
          h("td", {}, h("span", { class: `prio ${t.priority}` }, t.priority)),
          h("td", {}, t.customer_id),
          h("td", {}, t.assignee || "—"),
          h("td", {}, t.status.replaceAll("_", " ")),
          h("td", {}, clockView(t.response, t.policy)),
          h("td", {}, clockView(t.resolution, t.policy)),
        ),
      ),
    );
    body.querySelectorAll(".clock").forEach((el, i) => el.setAttribute("data-metric", i % 2 ? "resolution" : "response"));
  }

  const refresh = Board.poll(load);

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams(currentFilters()).toString();
    history.replaceState(null, "", query ? `?${query}` : location.pathname);
    refresh();
  });
  document.getElementById("clear-filters").addEventListener("click", () => {
    filters.reset();
    history.replaceState(null, "", location.pathname);
    refresh();
  });

  const form = document.getElementById("new-ticket-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = document.getElementById("new-ticket-result");
    const body = {
      title: form.elements.title.value,
      priority: form.elements.priority.value,
      customer_id: form.elements.customer_id.value.trim(),
    };
    if (form.elements.ticket_id.value.trim()) body.ticket_id = form.elements.ticket_id.value.trim();
    try {
      const ticket = await api("POST", "/tickets", body);
      result.className = "ok";
      result.replaceChildren("Opened ", h("a", { href: `/board/tickets/${encodeURIComponent(ticket.ticket_id)}` }, ticket.ticket_id));
      form.elements.title.value = "";
      form.elements.ticket_id.value = "";
      refresh();
    } catch (error) {
      result.className = "error";
      result.textContent = error.message;
    }
  });
})();
