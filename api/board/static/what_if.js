// What-if: a proposed policy replayed over a period's tickets (POST /policies/what-if), beside
// the policies they ran under: met and breached, credits and the tickets that change.
"use strict";

(() => {
  const { api, h, time, params } = Board;
  const form = document.getElementById("what-if-form");
  const text = form.elements.policy;
  const today = new Date();
  const iso = (d) => d.toISOString().slice(0, 10);
  form.elements.from.value = params.get("from") || iso(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)));
  form.elements.to.value = params.get("to") || iso(today);
  // The text a picked policy filled in: unchanged, the policy goes by its name (all of it,
  // rewards and quality included, which GET /policies does not show).
  let picked = null;

  // GET /policies in the config's shape again, for editing a copy.
  function configShape(policy) {
    const shape = {
      calendar: policy.calendar,
      warn_at: policy.warn_at,
      targets: Object.fromEntries(Object.entries(policy.targets).map(
        ([priority, t]) => [priority, { response: t.response, resolution: t.resolution }])),
      escalation: policy.escalation,
      auto_close_after: policy.auto_close_after,
    };
    if (policy.credits) shape.credits = policy.credits;
    return shape;
  }

  async function loadPolicies() {
    const select = form.elements.configured;
    if (select.options.length > 1) return;
    const body = await api("GET", "/policies");
    for (const [name, policy] of Object.entries(body.policies)) {
      const option = h("option", { value: name }, name);
      option.dataset.text = JSON.stringify(configShape(policy), null, 2);
      select.append(option);
    }
  }

  form.elements.configured.addEventListener("change", () => {
    const option = form.elements.configured.selectedOptions[0];
    picked = option && option.value ? option.dataset.text : null;
    if (picked !== null) text.value = picked;
  });

  // Decimal strings of one currency, subtracted exactly (money is never a float here).
  function minus(a, b) {
    const places = Math.max((a.split(".")[1] || "").length, (b.split(".")[1] || "").length);
    const units = (s) => BigInt(s.replace("-", "").split(".")[0] + (s.split(".")[1] || "").padEnd(places, "0")) * (s.startsWith("-") ? -1n : 1n);
    const diff = units(a) - units(b);
    const digits = (diff < 0n ? -diff : diff).toString().padStart(places + 1, "0");
    const whole = places ? `${digits.slice(0, -places)}.${digits.slice(-places)}` : digits;
    return `${diff < 0n ? "-" : "+"}${whole}`;
  }

  const pair = (a, b) => (a === b ? String(a) : `${a} → ${b}`);
  const percent = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 1000) / 10}%`);

  function clockRows(name, actual, proposed) {
    return ["response", "resolution"].map((metric) => {
      const a = actual[metric];
      const p = proposed[metric];
      return h("tr", { "data-group": name, "data-metric": metric },
        h("td", {}, name), h("td", {}, metric),
        h("td", {}, pair(a.met, p.met)), h("td", {}, pair(a.breached, p.breached)),
        h("td", {}, pair(a.open, p.open)),
        h("td", {}, pair(percent(a.compliance), percent(p.compliance))));
    });
  }

  function show(answer) {
    document.getElementById("what-if-summary").textContent =
      `${answer.tickets} tickets opened from ${time(answer.from, "UTC")} to ${time(answer.to, "UTC")}, ` +
      `replayed under policy ${answer.policy} and under the policies they ran under.`;
    const trust = document.getElementById("what-if-trust");
    const doubtful = [...answer.not_reproduced, ...answer.unjournaled];
    trust.className = answer.reproduced ? "ok" : "error";
    trust.textContent = answer.reproduced
      ? "The replay reproduced what happened to every ticket: the comparison can be trusted."
      : `The replay did not reproduce ${doubtful.length} tickets (${doubtful.join(", ")}): do not trust the comparison for them.`;
    document.querySelector("#what-if-clocks tbody").replaceChildren(
      ...clockRows("all", answer.actual, answer.proposed),
      ...Object.entries(answer.by_customer).flatMap(
        ([customer, v]) => clockRows(`customer ${customer}`, v.actual, v.proposed)),
    );
    document.querySelector("#what-if-credits tbody").replaceChildren(
      ...(answer.actual.credits.length ? answer.actual.credits.map((a, i) => {
        const p = answer.proposed.credits[i];
        return h("tr", { "data-customer": a.customer_id },
          h("td", {}, a.customer_id), h("td", {}, `${a.amount} ${a.unit}`),
          h("td", {}, `${p.amount} ${p.unit}`), h("td", {}, `${minus(p.amount, a.amount)} ${a.unit}`));
      }) : [h("tr", {}, h("td", { colSpan: 4, class: "muted" }, "No tickets in this period."))]),
    );
    document.querySelector("#what-if-changed tbody").replaceChildren(
      ...(answer.changed.length ? answer.changed.map((c) => h("tr", { "data-ticket-id": c.ticket_id },
        h("td", {}, h("a", { href: `/board/tickets/${encodeURIComponent(c.ticket_id)}` }, c.ticket_id)),
        h("td", {}, c.metric), h("td", {}, c.actual), h("td", {}, c.proposed)))
        : [h("tr", {}, h("td", { colSpan: 4, class: "muted" }, "No ticket changes."))]),
    );
    document.getElementById("what-if-refused").textContent = answer.refused.length
      ? `Refused under the proposed policy: ${answer.refused.map((r) => `${r.action} of ${r.ticket_id} (${r.reason})`).join("; ")}`
      : "";
    document.getElementById("what-if-result").hidden = false;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = document.getElementById("what-if-error");
    const chosen = form.elements.configured.value;
    const body = {
      from: form.elements.from.value,
      to: form.elements.to.value,
      // Unchanged, a picked policy goes by name; anything else as the text (YAML or JSON).
      policy: chosen && text.value === picked ? chosen : text.value,
    };
    if (form.elements.customer_id.value.trim()) body.customer_id = form.elements.customer_id.value.trim();
    if (form.elements.priority.value) body.priority = form.elements.priority.value;
    try {
      show(await api("POST", "/policies/what-if", body));
      error.hidden = true;
    } catch (e) {
      document.getElementById("what-if-result").hidden = true;
      error.hidden = false;
      error.textContent = e.message;
    }
  });

  // The policies to pick from, once a staff key is there (a customer key may not read them;
  // without a key the shared dialog asks for one, and a new key tries again).
  async function start() {
    try {
      await loadPolicies();
    } catch (e) {
      if (e.status !== 401 && e.status !== 403) throw e;
    }
  }
  start();
  document.getElementById("key-form").addEventListener("submit", () => setTimeout(start, 0));
})();
