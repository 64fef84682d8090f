/* chainrisk graph explorer: search an address, see its verdict and its counterparties laid out by flow (sources of
   funds left, destinations right), expand nodes, open the transfers behind an edge, find a path A -> B.
   It calls the service's own API with the key typed in (kept in this tab's sessionStorage only). */
(function () {
  "use strict";
  const BAND_COLOUR = {severe: "#b71c1c", high: "#e65100", medium: "#f9a825", low: "#0277bd", none: "#2e7d32"};
  const ACTION_COLOUR = {sever_and_report: "#b71c1c", report: "#b71c1c", sever: "#6a1b9a", review: "#f9a825",
                         none: "#2e7d32"};
  const ILLICIT = new Set(["sanctions", "blacklist", "mixer", "scam", "phishing", "hack", "ransomware", "darknet",
                           "terrorism_financing"]);
  const COL = 330, ROW = 64;
  const $ = (id) => document.getElementById(id);
  const state = {lang: "en", msgs: null, subject: null, columns: {}, expanded: new Set(), ready: false,
                 timings: {}};
  window.chainriskExplorer = state;

  // -- words ---------------------------------------------------------------------------------------------------
  function t(key, fields) {
    const m = state.msgs && (state.msgs[state.lang][key] || state.msgs.en[key]);
    let s = m || key;
    if (fields) for (const k of Object.keys(fields)) s = s.split("{" + k + "}").join(String(fields[k]));
    return s;
  }
  const cat = (c) => c ? t("category." + c) : "";
  const band = (b) => b ? t("band." + b) : t("ui.unscored");
  function applyWords() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    document.querySelectorAll("[data-ph]").forEach((el) => { el.placeholder = t(el.dataset.ph); });
    $("lang").textContent = t("ui.lang");
    document.title = t("ui.title");
    legend();
  }
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                                              '"': "&quot;", "'": "&#39;"}[c]));
  const short = (a) => a && a.length > 14 ? a.slice(0, 6) + "…" + a.slice(-4) : (a || "");
  function usd(x) {
    if (x == null) return "-";
    const v = Number(x);
    if (v >= 1e6) return (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "k";
    return v.toFixed(v >= 100 ? 0 : 2);
  }
  const fmt = (x) => x == null ? "-" : Number(x).toLocaleString("en-US", {maximumFractionDigits: 2});

  // -- the API -------------------------------------------------------------------------------------------------
  async function api(path, opts) {
    const key = $("apikey").value.trim();
    const headers = key ? {Authorization: "Bearer " + key} : {};
    const r = await fetch(path, Object.assign({headers}, opts || {}));
    if (!r.ok) {
      let msg = r.status + "";
      try { const b = await r.json(); msg = b.error.code + ": " + b.error.message; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    return (opts && opts.raw) ? r : r.json();
  }
  function filterQuery() {
    const q = new URLSearchParams();
    if ($("since").value) q.set("since", $("since").value + "T00:00:00");
    if ($("until").value) q.set("until", $("until").value + "T23:59:59");
    if ($("token").value.trim()) q.set("token", $("token").value.trim());
    if ($("min_usd").value) q.set("min_usd", $("min_usd").value);
    return q;
  }
  function status(text, error) {
    $("status").innerHTML = error ? '<span class="error">' + esc(text) + "</span>" : esc(text);
  }

  // -- the graph -----------------------------------------------------------------------------------------------
  const cy = cytoscape({
    container: $("graph"), minZoom: 0.05, maxZoom: 3,
    style: [
      {selector: "node", style: {
        "shape": "round-rectangle", "width": 150, "height": 40, "background-color": "data(fill)",
        "border-width": 2, "border-color": "data(border)", "label": "data(label)", "text-wrap": "wrap",
        "text-max-width": 144, "font-size": 11, "text-valign": "center", "text-halign": "center", "color": "#fff",
        "text-outline-width": 0, "font-family": "Helvetica, Arial, WenQuanYi Micro Hei, sans-serif"}},
      {selector: "node.subject", style: {"border-width": 4, "border-color": "#0d47a1", "width": 170, "height": 46}},
      {selector: "node.fold", style: {"background-color": "#eeeeee", "color": "#444", "border-style": "dashed",
                                      "border-color": "#9e9e9e"}},
      {selector: "node.unscored", style: {"color": "#222"}},
      {selector: "node.medium", style: {"color": "#222"}},
      {selector: "node:selected", style: {"overlay-opacity": 0.15, "overlay-color": "#0d47a1"}},
      {selector: "edge", style: {
        "curve-style": "bezier", "target-arrow-shape": "triangle", "width": "data(w)", "line-color": "#90a4ae",
        "target-arrow-color": "#90a4ae", "label": "data(label)", "font-size": 10, "color": "#333",
        "text-background-color": "#fff", "text-background-opacity": 0.9, "text-background-padding": 2,
        "text-rotation": "autorotate"}},
      {selector: "edge.path", style: {"line-color": "#d81b60", "target-arrow-color": "#d81b60", "width": 5}},
      {selector: "edge:selected", style: {"line-color": "#0d47a1", "target-arrow-color": "#0d47a1"}},
    ],
  });
  state.cy = cy;

  function nodeLabel(n) {
    const lab = (n.labels || [])[0];
    const who = lab ? (lab.name || cat(lab.category)) : (n.top_category ? "→ " + cat(n.top_category) : "");
    return (who ? who.slice(0, 24) + "\n" : "") + short(n.address) + "\n" + band(n.risk_band);
  }
  function nodeData(n) {
    const lab = (n.labels || [])[0];
    const c = lab ? lab.category : n.top_category;
    return {id: n.address, label: nodeLabel(n), fill: BAND_COLOUR[n.risk_band] || "#9e9e9e",
            border: c ? (ILLICIT.has(c) ? "#4a0000" : "#4a148c") : "#607d8b", info: n};
  }
  function place(x, key) {
    const col = state.columns[key] = (state.columns[key] || 0) + 1;
    const k = col - 1;
    return {x: x, y: (k % 2 ? 1 : -1) * Math.ceil(k / 2) * ROW};
  }
  function addNode(n, x, cls) {
    let el = cy.getElementById(n.address);
    if (el.nonempty()) { el.data(nodeData(n)); return el; }
    el = cy.add({group: "nodes", data: nodeData(n), position: place(x, "c" + x)});
    el.addClass(cls || "");
    if (!n.risk_band) el.addClass("unscored");
    if (n.risk_band === "medium") el.addClass("medium");
    return el;
  }
  function addEdge(e) {
    const id = e.from + ">" + e.to;
    const label = usd(e.usd) + " USD" + (e.transfers > 1 ? " · " + e.transfers : "");
    const w = Math.max(1.5, Math.min(9, Math.log10(Math.max(10, e.usd)) * 1.2));
    const el = cy.getElementById(id);
    if (el.nonempty()) { el.data({label, w, info: e}); return el; }
    return cy.add({group: "edges", data: {id, source: e.from, target: e.to, label, w, info: e}});
  }
  function addFold(address, dir, fold, x) {
    if (!fold) return;
    const id = "fold:" + dir + ":" + address;
    if (cy.getElementById(id).nonempty()) return;
    cy.add({group: "nodes", data: {id, label: t("ui.folded", {n: fold.counterparties}) + "\n" + usd(fold.usd) + " USD",
                                   fill: "#eee", border: "#9e9e9e", info: null}, position: place(x, "c" + x),
            classes: "fold"});
    cy.add({group: "edges", data: dir === "in" ? {id: id + ">", source: id, target: address, label: "", w: 1.5}
                                              : {id: id + "<", source: address, target: id, label: "", w: 1.5}});
  }

  async function loadNeighbourhood(address, fresh) {
    const t0 = performance.now();
    const q = filterQuery();
    q.set("limit", fresh ? "100" : "25");
    status(t("ui.loading"));
    const g = await api("/v1/graph/neighbourhood/" + encodeURIComponent(address) + "?" + q.toString());
    const t1 = performance.now();
    cy.batch(() => {
      if (fresh) { cy.elements().remove(); state.columns = {}; state.expanded = new Set(); }
      const centre = cy.getElementById(g.address);
      const x0 = centre.nonempty() ? centre.position("x") : 0;
      const subj = g.nodes.find((n) => n.role === "subject");
      const sEl = addNode(subj, x0, fresh ? "subject" : "");
      if (fresh) sEl.position({x: 0, y: 0});
      for (const n of g.nodes) {
        if (n.role === "subject") continue;
        const x = n.role === "destination" ? x0 + COL : x0 - COL;
        addNode(n, x);
      }
      for (const e of g.edges) addEdge(e);
      addFold(g.address, "in", g.folded.in, x0 - COL);
      addFold(g.address, "out", g.folded.out, x0 + COL);
    });
    state.expanded.add(g.address);
    cy.fit(undefined, 30);
    const t2 = performance.now();
    state.timings = {fetch_ms: t1 - t0, draw_ms: t2 - t1, total_ms: t2 - t0, nodes: cy.nodes().length};
    status(t("ui.nodes", {n: cy.nodes().length, e: cy.edges().length}) + " · " + t("ui.click_edge"));
    return g;
  }

  async function showVerdict(address) {
    const v = await api("/v1/addresses/" + encodeURIComponent(address));
    const rows = [];
    for (const axis of ["illicit", "vc_business"]) {
      const a = v[axis];
      if (!a || !a.band) continue;
      rows.push("<tr><td>" + esc(t("axis." + axis)) + '</td><td><span class="badge" style="background:' +
                (BAND_COLOUR[a.band] || "#616161") + '">' + esc(band(a.band)) + "</span></td><td class=num>" +
                esc(a.score) + "</td><td>" + esc(cat(a.top_category)) + "</td></tr>");
    }
    const act = v.action ? '<div class="action" style="background:' + (ACTION_COLOUR[v.action] || "#616161") +
      '">' + esc(t("action." + v.action)) + "</div>" : "";
    const labels = (v.labels || []).filter((l) => l.active).map((l) => esc(cat(l.category)) +
      (l.name ? " (" + esc(l.name) + ")" : "")).join(", ");
    $("verdict").innerHTML = "<h2>" + esc(t("ui.verdict")) + '</h2><div class="mono">' + esc(v.address || v.input) +
      "</div>" + (v.status === "ok" ? act + "<table>" + rows.join("") + "</table>" +
      (state.lang === "en" ? "<p>" + esc(v.reason) + "</p>" : "") : "<p><b>" + esc(t("band.unknown")) + "</b>: " + esc(v.reason) + "</p>") +
      (labels ? "<p>" + labels + "</p>" : "") +
      '<p><button id="report-pdf" type="button">' + esc(t("ui.report")) + " (PDF)</button></p>";
    $("report-pdf").onclick = () => report(v.address || address);
  }

  async function report(address) {
    try {
      const r = await api("/v1/reports/" + encodeURIComponent(address) + "?format=pdf&lang=" + state.lang,
                          {raw: true});
      const url = URL.createObjectURL(await r.blob());
      window.open(url, "_blank", "noopener");
    } catch (e) { status(e.message, true); }
  }

  async function showTransfers(edge) {
    const e = edge.data("info");
    if (!e) return;
    const q = filterQuery();
    q.set("from", e.from); q.set("to", e.to); q.set("limit", "100");
    const r = await api("/v1/graph/transfers?" + q.toString());
    const rows = r.transfers.map((x) => "<tr><td>" + esc((x.time || "").replace("T", " ").replace("Z", "")) +
      "</td><td class=num>" + esc(fmt(x.amount)) + " " + esc(x.token) + "</td><td class=num>" + esc(fmt(x.usd)) +
      '</td><td class="hash">' + (x.explorer_url ? '<a target="_blank" rel="noopener noreferrer" href="' +
      esc(x.explorer_url) + '">' + esc(x.tx_hash) + "</a>" : esc(x.tx_hash)) + "</td></tr>");
    $("transfers").innerHTML = '<h2 id="transfers-title">' + esc(t("ui.transfers")) + "</h2>" +
      '<div class="mono">' + esc(short(e.from)) + " → " + esc(short(e.to)) + "</div><p>" + r.total + " · " +
      esc(fmt(r.usd)) + " USD</p><table><thead><tr><th>UTC</th><th>" + esc(t("ui.token")) +
      "</th><th>USD</th><th>tx</th></tr></thead><tbody>" + rows.join("") + "</tbody></table>";
  }

  async function findPath() {
    const to = $("path-to").value.trim();
    if (!state.subject || !to) return;
    const k = $("path-k").value;
    const p = await api("/v1/graph/path?from=" + encodeURIComponent(state.subject) + "&to=" +
                        encodeURIComponent(to) + "&max_hops=" + k);
    cy.edges().removeClass("path");
    if (!p.found) { status(t("ui.path_none", {k})); return; }
    cy.batch(() => {
      const x0 = cy.getElementById(p.nodes[0].address).position("x") || 0;
      p.nodes.forEach((n, i) => { if (i > 0) addNode(n, x0 + i * COL); });
      for (const e of p.edges) addEdge(e).addClass("path");
    });
    cy.fit(undefined, 30);
    status(t("ui.path_found", {n: p.hops}));
  }

  function legend() {
    const items = ["severe", "high", "medium", "low", "none"].map((b) => '<span><i style="background:' +
      BAND_COLOUR[b] + '"></i>' + esc(band(b)) + "</span>");
    items.push('<span><i style="background:#9e9e9e"></i>' + esc(t("ui.unscored")) + "</span>");
    $("legend").innerHTML = "<h2>" + esc(t("ui.legend")) + '</h2><div class="legend">' + items.join("") +
      "</div><p>" + esc(t("ui.fill_band")) + "<br>" + esc(t("ui.border_illicit")) + "<br>" + esc(t("ui.border_vc")) +
      "</p><p>" + esc(t("ui.sources")) + " ← · → " + esc(t("ui.destinations")) + "</p><p>" +
      esc(t("ui.click_edge")) + "</p>";
  }

  async function search(address) {
    state.ready = false;
    state.subject = address;
    $("transfers").innerHTML = "";
    try {
      await Promise.all([loadNeighbourhood(address, true), showVerdict(address)]);
      history.replaceState(null, "", "#" + encodeURIComponent(address));
    } catch (e) { status(e.message, true); }
    state.ready = true;
  }

  cy.on("tap", "node", async (ev) => {
    const n = ev.target;
    if (n.hasClass("fold") || !n.data("info")) return;
    state.ready = false;
    try {
      if (!state.expanded.has(n.id())) await loadNeighbourhood(n.id(), false);
      await showVerdict(n.id());
    } catch (e) { status(e.message, true); }
    state.ready = true;
  });
  cy.on("tap", "edge", async (ev) => {
    state.ready = false;
    try { await showTransfers(ev.target); } catch (e) { status(e.message, true); }
    state.ready = true;
  });

  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const a = $("address").value.trim();
    if (a) search(a);
  });
  $("apply").onclick = () => { if (state.subject) search(state.subject); };
  $("path").onclick = () => { findPath().catch((e) => status(e.message, true)); };
  $("apikey").value = sessionStorage.getItem("chainrisk.key") || "";
  $("apikey").addEventListener("change", () => sessionStorage.setItem("chainrisk.key", $("apikey").value.trim()));
  $("lang").onclick = () => {
    state.lang = state.lang === "en" ? "zh-CN" : "en";
    localStorage.setItem("chainrisk.lang", state.lang);
    applyWords();
    if (state.subject) search(state.subject);
  };
  window.addEventListener("resize", () => cy.fit(undefined, 30));

  fetch("messages.json").then((r) => r.json()).then((m) => {
    state.msgs = m;
    const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem("chainrisk.lang") ||
      ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en");
    state.lang = m[asked] ? asked : "en";
    applyWords();
    const a = decodeURIComponent(location.hash.slice(1));
    if (a) { $("address").value = a; search(a); }
    state.loaded = true;
  });
})();
