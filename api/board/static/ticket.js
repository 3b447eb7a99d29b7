// One ticket: fields, both clocks in two time zones, timeline, and the agent's actions.
"use strict";

(() => {
  const { api, h, clockView, time, viewerZone, config } = Board;
  const id = config.ticket_id;
  const path = `/tickets/${encodeURIComponent(id)}`;
  // From the API's settings (SLAFLOW_TEMPORAL_UI_URL), never from this page's URL: a crafted
  // link must not choose where the board sends its users.
  document.getElementById("temporal-link").href =
    `${config.temporal_ui}/namespaces/${encodeURIComponent(config.namespace)}/workflows/ticket-${encodeURIComponent(id)}`;

  // With API keys, each key acts as itself: leave the name out and the API records the key's
  // name (a different one is refused). Without keys, the name typed here is recorded.
  const agent = document.getElementById("agent-id");
  if (config.needs_key) {
    agent.required = false;
    agent.placeholder = "your key's name";
    agent.value = localStorage.getItem("slaflow.agent.keyed") || "";
    agent.addEventListener("change", () => localStorage.setItem("slaflow.agent.keyed", agent.value));
  } else {
    agent.value = localStorage.getItem("slaflow.agent") || "agent";
    agent.addEventListener("change", () => localStorage.setItem("slaflow.agent", agent.value));
  }
  const who = () => agent.value.trim() || undefined;

  function field(name, value) {
    return [h("dt", {}, name), h("dd", {}, value === null || value === undefined || value === "" ? "—" : value)];
  }

  function clockBlock(name, clock, ticket) {
    const zones = [["your time", viewerZone]];
    if (ticket.timezone && ticket.timezone !== viewerZone) {
      zones.push([`calendar ${ticket.calendar}`, ticket.timezone]);
    }
    const when = (label, iso) =>
      zones.map(([zoneLabel, zone]) => field(`${label} (${zoneLabel})`, time(iso, zone)));
    return h(
      "div",
      { class: "clock-block", "data-metric": name },
      h("h3", {}, name, " ", clockView(clock, ticket.policy)),
      h("dl", { class: "fields" },
        field("target", Board.duration(clock.target_seconds)),
        field("state", clock.state),
        when("due", clock.due_at),
        clock.completed_at ? when("completed", clock.completed_at) : [],
        clock.breached_at ? when("breached", clock.breached_at) : [],
      ),
    );
  }

  function list(items, empty, row) {
    if (!items.length) return h("p", { class: "muted" }, empty);
    return h("ul", {}, items.map((item) => h("li", {}, row(item))));
  }

  function renderTicket(t) {
    document.getElementById("t-title").textContent = t.title;
    document.title = `${t.ticket_id} · ${t.title} · slaflow`;
    document.getElementById("fields").replaceChildren(
      ...field("status", t.status.replaceAll("_", " ")),
      ...field("priority", t.priority),
      ...field("customer", t.customer_id),
      ...field("assignee", t.assignee),
      ...field("policy", t.policy),
      ...field("calendar", `${t.calendar} (${t.timezone})`),
      ...field("opened", time(t.created_at)),
      ...field("updated", time(t.updated_at)),
      ...field("escalation level", t.escalation_level),
      ...field("description", t.description),
    );
    document.body.dataset.status = t.status;
    document.getElementById("clocks").replaceChildren(
      clockBlock("response", t.response, t),
      clockBlock("resolution", t.resolution, t),
    );
    document.getElementById("escalations").replaceChildren(
      list(t.escalations, "None.", (e) =>
        `level ${e.level} · ${e.metric} · ${time(e.at)} · ${e.reason}` +
        (e.notify && e.notify.length ? ` · notified ${e.notify.join(", ")}` : "")),
    );
    document.getElementById("credits").replaceChildren(
      list(t.credits, "None.", (c) => `${c.kind} · ${c.metric} · ${c.amount} ${c.unit} · ${time(c.at)}`),
    );
    document.getElementById("comments").replaceChildren(
      list(t.comments, "None.", (c) => [h("strong", {}, c.author), ` · ${time(c.at)}: `, c.body]),
    );
    document.getElementById("new-priority").value = t.priority;
    renderQuality(t);
  }

  function renderQuality(t) {
    const open = t.rating_closes_at && new Date(t.rating_closes_at) > new Date();
    const rated = (t.ratings || []).some((r) => r.cycle === t.resolution.cycle);
    document.getElementById("quality-fields").replaceChildren(
      ...field("resolution note", t.resolution_note),
      ...field("ratings taken until", t.rating_closes_at ? time(t.rating_closes_at) : null),
    );
    document.getElementById("ratings").replaceChildren(
      list(t.ratings || [], "No rating yet.", (r) =>
        [h("strong", { "data-score": r.score }, `${r.score}/5`), ` · cycle ${r.cycle} · ${time(r.at)}`,
          r.comment ? `: ${r.comment}` : ""]),
    );
    const resolved = t.status === "resolved" || t.status === "closed";
    document.getElementById("rating-form").hidden = !(resolved && open && !rated);
  }

  const ratingForm = document.getElementById("rating-form");
  const ratingError = document.getElementById("rating-error");
  ratingForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("rating-submit");
    ratingError.hidden = true;
    button.disabled = true;
    try {
      const comment = document.getElementById("rating-comment").value.trim();
      renderTicket(await api("POST", `${path}/rating`, {
        score: Number(document.getElementById("rating-score").value),
        comment: comment || undefined,
      }));
      document.getElementById("rating-comment").value = "";
      refresh();
    } catch (error) {
      ratingError.textContent = `Rating refused (${error.status}): ${error.message}`;
      ratingError.hidden = false;
    } finally {
      button.disabled = false;
    }
  });

  function renderTimeline(timeline) {
    document.getElementById("timeline").replaceChildren(
      ...timeline.entries.map((e) =>
        h("li", { "data-kind": e.kind },
          h("span", { class: "muted" }, time(e.at)), " ",
          h("strong", {}, e.kind.replaceAll("_", " ")),
          e.actor ? ` by ${e.actor}` : "",
          Object.keys(e.detail || {}).length ? h("code", {}, " " + JSON.stringify(e.detail)) : "",
        ),
      ),
    );
  }

  async function load() {
    await Board.loadWarnAt();
    const [ticket, timeline] = await Promise.all([api("GET", path), api("GET", `${path}/timeline`)]);
    renderTicket(ticket);
    renderTimeline(timeline);
  }

  const refresh = Board.poll(load);

  const text = document.getElementById("action-text");
  const calls = {
    respond: () => ["POST", "/respond", { agent_id: who(), message: text.value || undefined }],
    resolve: () => ["POST", "/resolve", { agent_id: who(), resolution: text.value || undefined }],
    pause: () => ["POST", "/pause", { reason: text.value || "waiting on customer", actor: who() }],
    resume: () => ["POST", "/resume", { actor: who() }],
    reopen: () => ["POST", "/reopen", { reason: text.value || undefined, actor: who() }],
    close: () => ["POST", "/close", { actor: who() }],
    comment: () => ["POST", "/comments", { author: who(), body: text.value }],
    priority: () => ["PATCH", "", { priority: document.getElementById("new-priority").value, actor: who() }],
    assign: () => ["PATCH", "", { assignee: document.getElementById("new-assignee").value.trim(), actor: who() }],
  };

  const errorBox = document.getElementById("action-error");
  const okBox = document.getElementById("action-ok");
  document.querySelectorAll("[data-action]").forEach((button) =>
    button.addEventListener("click", async () => {
      const [method, suffix, body] = calls[button.dataset.action]();
      errorBox.hidden = okBox.hidden = true;
      button.disabled = true;
      try {
        renderTicket(await api(method, path + suffix, body));
        okBox.textContent = `${button.textContent}: done.`;
        okBox.hidden = false;
        text.value = "";
        refresh();
      } catch (error) {
        errorBox.textContent = `${button.textContent} refused (${error.status}): ${error.message}`;
        errorBox.dataset.status = error.status;
        errorBox.hidden = false;
      } finally {
        button.disabled = false;
        Board.tickAll();
      }
    }),
  );
})();
