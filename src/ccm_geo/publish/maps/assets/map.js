(function () {
"use strict";
var map = __MAP__;
var D = __DATA__;
var S = Math.pow(10, D.precision);
var R = L.canvas({padding: 0.5, tolerance: 6});  /* click tolerance: 6 px around a shape */
var ESC = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"};
function esc(s) {
  if (s === null || s === undefined) { return ""; }
  return String(s).replace(/[&<>"']/g, function (c) { return ESC[c]; });
}
function fmt(x, d) {
  if (x === null || x === undefined) { return "\u2013"; }
  return Number(x).toLocaleString("en-US", {minimumFractionDigits: d, maximumFractionDigits: d});
}
function ring(a) {
  var out = new Array(a.length / 2), x = 0, y = 0;
  for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out[i / 2] = [y / S, x / S]; }
  return out;
}
function shape(g) { return g.map(function (p) { return p.map(ring); }); }
var A = D.areas, N = A.id.length, LL = new Array(N);
function ll(i) { return LL[i] || (LL[i] = shape(A.g[i])); }
var DASH = {SHA: "5 3", released: "1 4"};
var GREY = D.grey;
function classColor(i) { return A.cls[i] >= 0 ? D.colors[A.cls[i]] : GREY; }
function classStroke(i) { return A.cls[i] >= 0 ? D.strokes[A.cls[i]] : "#555"; }
function classLabel(i) { return A.cls[i] >= 0 ? D.classes[A.cls[i]] : "unclassified"; }
/* polygons: the class colour, edged in a darker shade of it (never a dark outline that hides
   the fill of a small area); status by dashes; a minimum stroke of 1 px */
function outline(i, fill, edge) {
  return {renderer: R, color: edge || classStroke(i), weight: A.st[i] === "CHA" ? 1.4 : 1.1,
          opacity: 0.95, dashArray: DASH[A.st[i]] || null, fillColor: fill, fillOpacity: 0.8,
          hazardId: A.id[i]};
}
/* ---- overview symbols: an area smaller than MINPX pixels across is drawn as a circle at
   its centre, sized by its area and coloured by its class, above its (invisible) polygon ---- */
var MINPX = 8;
function sidePx(i, z) {
  var lat = A.cy[i] / S, mpp = 156543.03392 * Math.cos(lat * Math.PI / 180) / Math.pow(2, z);
  return Math.sqrt((A.ha[i] || 0) * 1e4) / mpp;
}
function symbolRadius(i) {
  var r = 3 + 1.8 * Math.log(1 + (A.ha[i] || 0)) / Math.LN10;
  return Math.min(10, r) + (A.cls[i] === 0 ? 1.5 : 0);
}
/* ---- tooltips and popups (every data string goes through esc) ---- */
function tip(layer) {
  var i = layer.ccmIndex;
  return "<b>" + esc(A.id[i]) + "</b>" + (A.name[i] ? " " + esc(A.name[i]) : "") + "<br>" +
    esc(classLabel(i)) + " priority \u00b7 rank " + fmt(A.rank[i], 0) + " \u00b7 " +
    fmt(A.ha[i], 2) + " ha";
}
function row(k, v) {
  return v === "" || v === null ? "" : "<div><b>" + k + ":</b> " + v + "</div>";
}
function popup(layer) {
  var i = layer.ccmIndex, h = ["<div class='ccm-pop'>"];
  h.push("<div class='ccm-pop-h'><span class='ccm-sw' style='background:" + classColor(i) +
         "'></span><b>" + esc(A.id[i]) + "</b>" + (A.name[i] ? " \u2013 " + esc(A.name[i]) : "") +
         "</div>");
  h.push(row("Priority", esc(classLabel(i)) + " (rank " + fmt(A.rank[i], 0) + " of " +
             fmt(D.total, 0) + ", score " + fmt(A.score[i], 3) + ")"));
  h.push(row("Status", esc(A.st[i])));
  h.push(row("Region", esc(A.region[i])));
  h.push(row("Area", fmt(A.ha[i], 2) + " ha"));
  var cont = A.contam[i] ? A.contam[i].split(";").map(function (s) { return s.trim(); })
    .filter(Boolean) : [];
  h.push(row("Contamination", cont.length ? esc(cont.join(", ")) : "\u2013"));
  if (D.criteria.length) {
    var rows = [];
    for (var k = 0; k < D.criteria.length; k++) { rows.push(k); }
    rows.sort(function (a, b) { return (A.c[b][i] || 0) - (A.c[a][i] || 0); });
    h.push("<table><tr><th>criterion</th><th>value (0\u20131)</th><th>contribution</th></tr>");
    rows.forEach(function (k) {
      h.push("<tr><td>" + esc(D.criteriaLabels[k]) + "</td><td>" + fmt(A.v[k][i], 2) + "</td><td>" +
             fmt(A.c[k][i], 3) + "</td></tr>");
    });
    h.push("<tr class='ccm-tot'><td>score</td><td></td><td>" + fmt(A.score[i], 3) +
           "</td></tr></table>");
  }
  for (var j = 0; j < D.indicators.length; j++) {
    var lab = D.indicatorLabels[j], v = A.ind[j][i], txt;
    if (v === null) { txt = "no data"; }
    else if (lab.travel && D.noRouteMin !== null && v >= D.noRouteMin) { txt = esc(D.noRoute); }
    else { txt = fmt(v, lab.digits) + (lab.unit ? (lab.unit === "%" || lab.unit === "/ha" ?
      "" : " ") + esc(lab.unit) : ""); }
    h.push(row(esc(lab.label), txt));
  }
  if (A.method[i] || A.year[i] !== null || A.cost[i] !== null) {
    h.push(row("Plan", esc(A.method[i] || "\u2013") + ", US$ " + fmt(A.cost[i], 0) +
               ", starts in " + (A.year[i] === null ? "\u2013" : esc(A.year[i]))));
    if (A.team[i] || A.start[i]) {
      h.push(row("Team", esc(A.team[i] || "\u2013") + " \u00b7 " + esc(A.start[i] || "?") +
                 " \u2013 " + esc(A.end[i] || "?")));
    }
  }
  if (A.expl[i]) { h.push("<div class='ccm-expl'>" + esc(A.expl[i]) + "</div>"); }
  h.push("</div>");
  return h.join("");
}

/* ---- the title first: popups keep clear of it ---- */
var box = L.DomUtil.create("div", "ccm-title", map.getContainer());
var h1 = L.DomUtil.create("h1", "", box);
h1.textContent = D.title;
var sub = L.DomUtil.create("div", "", box);
sub.textContent = D.total.toLocaleString("en-US") + " hazardous areas";
if (D.note) { var note = L.DomUtil.create("div", "ccm-note", box); note.textContent = D.note; }

/* ---- popups never under a control: before a popup is laid out, the space the controls and
   the title take is its auto-pan padding, and it is never taller than what is left ---- */
var legendBox = L.DomUtil.create("div", "ccm-legend");
function edges() {
  var c = map.getContainer().getBoundingClientRect(), q = function (sel) {
    return Array.prototype.slice.call(map.getContainer().querySelectorAll(sel))
      .map(function (e) { return e.getBoundingClientRect(); })
      .filter(function (r) { return r.width > 0 && r.height > 0; }); };
  var left = 0, top = 0, right = 0, bottom = 0;
  q(".leaflet-top.leaflet-left > *").forEach(function (r) { left = Math.max(left, r.right - c.left); });
  q(".ccm-title").forEach(function (r) { top = Math.max(top, r.bottom - c.top); });
  q(".leaflet-top.leaflet-right > *").forEach(function (r) { right = Math.max(right, c.right - r.left); });
  q(".leaflet-bottom > *").forEach(function (r) { bottom = Math.max(bottom, c.bottom - r.top); });
  return [L.point(left + 8, top + 8), L.point(right + 8, bottom + 8)];
}
var baseUpdate = L.Popup.prototype.update;
L.Popup.include({update: function () {
  if (this._map === map) {
    if (!legendBox.classList.contains("ccm-collapsed")) {  /* fold the legend away */
      legendBox.classList.add("ccm-collapsed");
      legendBox.ccmReopen = true;
    }
    var e = edges();
    this.options.autoPanPaddingTopLeft = e[0];
    this.options.autoPanPaddingBottomRight = e[1];
    this.options.maxHeight = Math.max(120, map.getSize().y - e[0].y - e[1].y - 30);
    this.options.maxWidth = Math.max(200, Math.min(380, map.getSize().x - e[0].x - e[1].x - 20));
  }
  return baseUpdate.apply(this, arguments);
}});
map.on("popupclose", function () {
  if (legendBox.ccmReopen) { legendBox.classList.remove("ccm-collapsed"); legendBox.ccmReopen = false; }
});

/* ---- layers and legends ---- */
var overlays = {}, legendBody = null;
var legendHead = L.DomUtil.create("button", "ccm-legend-h", legendBox);
legendHead.type = "button";
legendHead.setAttribute("aria-label", "Show or hide the legend");
legendHead.innerHTML = "Legend <span class='ccm-fold'></span>";
legendBody = L.DomUtil.create("div", "ccm-legend-b", legendBox);
L.DomEvent.on(legendHead, "click", function () {
  legendBox.classList.toggle("ccm-collapsed");
  legendBox.ccmReopen = false;
});
function swatch(fill, border, edge) {
  return "<span class='ccm-sw' style='background:" + fill + ";border-style:" +
    (border || "solid") + (edge ? ";border-color:" + edge : "") + "'></span>";
}
function legend(layer, titleHtml, rowsHtml, first) {
  var div = L.DomUtil.create("div", "", legendBody);
  if (first) { legendBody.insertBefore(div, legendBody.firstChild); }
  div.innerHTML = "<h4>" + titleHtml + "</h4>" + rowsHtml.map(function (r) {
    return "<div class='ccm-row'>" + r + "</div>"; }).join("");
  div.style.display = map.hasLayer(layer) ? "" : "none";
  layer.on("add", function () { div.style.display = ""; });
  layer.on("remove", function () { div.style.display = "none"; });
}
var GROUPS = ["Hazardous", "Other", "Criterion", "Plan", "Context"], listed = [];
function register(name, layer, on) {
  overlays[name] = layer;
  listed.push(name);
  if (on) { layer.addTo(map); }
}
function controlOrder() {  /* hazards first, then criteria, plan years, context */
  var g = function (n) { for (var k = 0; k < GROUPS.length; k++) {
    if (n.indexOf(GROUPS[k]) === 0) { return k; } } return GROUPS.length; };
  var out = {};
  listed.map(function (n, k) { return [g(n), k, n]; })
    .sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; })
    .forEach(function (e) { out[e[2]] = overlays[e[2]]; });
  return out;
}
function hazardGroup(indices, style) {
  var g = L.featureGroup();
  g.bindTooltip(tip, {sticky: true});
  g.bindPopup(popup, {maxWidth: 380});
  g.ccmFill = function () {
    for (var k = 0; k < indices.length; k++) {
      var i = indices[k], p = L.polygon(ll(i), style(i));
      p.ccmIndex = i;
      g.addLayer(p);
    }
  };
  return g;
}
function lazy(g) {  /* fill a layer the first time it is switched on */
  g.once("add", function () { g.ccmFill(); });
  return g;
}
/* drawing order: low class first, high last (on top); within a class, the best rank on top */
var all = [];
for (var i0 = 0; i0 < N; i0++) { all.push(i0); }
all.sort(function (a, b) {
  var ca = A.cls[a] < 0 ? 9 : A.cls[a], cb = A.cls[b] < 0 ? 9 : A.cls[b];
  return cb - ca || (B(A.rank[b]) - B(A.rank[a])) || b - a;
});
function B(r) { return r === null ? 1e12 : r; }

/* ---- basemap: a tile URL, or the tiles of a local file inlined in the page ---- */
var BLANK = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
var tiles = null;
if (D.localTiles) {
  var TT = D.localTiles.tiles;
  var Local = L.TileLayer.extend({getTileUrl: function (c) {
    return TT[c.z + "/" + c.x + "/" + c.y] || BLANK; }});
  tiles = new Local("", {minZoom: 0, maxZoom: 19, minNativeZoom: D.localTiles.minNativeZoom,
    maxNativeZoom: D.localTiles.maxNativeZoom, errorTileUrl: BLANK,
    attribution: esc(D.tilesAttribution)});
} else if (D.tiles) {
  tiles = L.tileLayer(D.tiles, {attribution: esc(D.tilesAttribution), maxZoom: 19});
}
if (tiles) {
  tiles.addTo(map);
  L.control.attribution({prefix: false}).addTo(map);
} else {
  map.getContainer().style.background = D.background;
}

/* ---- context layers: always beneath the hazardous areas, so none hides them ---- */
var C = D.context, ctx = {}, CC = D.contextColors;
function on(name) { return D.contextOn.indexOf(name) !== -1; }
function beneath(g) { g.on("add", function () { g.bringToBack(); }); return g; }
if (C.admin) {
  var adm = beneath(L.featureGroup());
  C.admin.g.forEach(function (g, k) {
    adm.addLayer(L.polygon(shape(g), {renderer: R, color: CC.admin, weight: 1.5, opacity: 0.8,
      fill: false, interactive: true}).bindTooltip(esc(C.admin.label[k] || ""), {sticky: true}));
  });
  register("Context: admin boundaries", adm, on("admin"));
  legend(adm, "Admin boundaries",
         ["<span class='ccm-line' style='border-color:" + CC.admin + "'></span>region"]);
  ctx.admin = adm;
}
if (C.roads) {
  var rd = beneath(L.featureGroup());
  C.roads.g.forEach(function (g, k) {
    rd.addLayer(L.polyline(g.map(ring), {renderer: R, color: CC.roads, weight: 1.2, opacity: 0.9})
      .bindTooltip("road: " + esc(C.roads.label[k] || "unknown class"), {sticky: true}));
  });
  register("Context: roads", rd, on("roads"));
  legend(rd, "Roads", ["<span class='ccm-line' style='border-color:" + CC.roads +
    "'></span>road"]);
  ctx.roads = rd;
}
function points(P, style, label) {
  var g = beneath(L.featureGroup());
  for (var k = 0; k < P.x.length; k++) {
    g.addLayer(L.circleMarker([P.y[k] / S, P.x[k] / S], style(k)).bindTooltip(label(k)));
  }
  return g;
}
if (C.settlements) {
  var T = C.settlements, st = points(T, function (k) {
    var r = T.pop[k] ? Math.max(2, Math.min(8, Math.log10(T.pop[k] + 1) * 1.8)) : 2;
    return {renderer: R, radius: r, color: CC.settlements, weight: 1, fillColor: "#ffffff",
            fillOpacity: 0.8};
  }, function (k) {
    return esc(T.label[k] || "settlement") + (T.pop[k] !== null ? " \u00b7 pop. " +
      fmt(T.pop[k], 0) : ""); });
  register("Context: settlements", st, on("settlements"));
  legend(st, "Settlements", ["<span class='ccm-dot' style='background:#fff'></span>" +
    "settlement (size: population)"]);
  ctx.settlements = st;
}
if (C.health) {
  var H = C.health, hf = points(H, function () {
    return {renderer: R, radius: 4, color: "#08306b", weight: 1.5, fillColor: CC.health,
            fillOpacity: 1}; }, function (k) { return "health: " + esc(H.label[k] || ""); });
  register("Context: health facilities", hf, on("health"));
  legend(hf, "Health facilities", ["<span class='ccm-dot' style='background:" + CC.health +
    ";border-color:#08306b'></span>health facility"]);
  ctx.health = hf;
}
if (C.accidents) {
  var X = C.accidents, ac = points(X, function (k) {
    var hurt = (X.killed[k] || 0) + (X.injured[k] || 0);
    return {renderer: R, radius: hurt ? 2.5 + Math.min(3, hurt) : 2, color: CC.accidents,
            weight: 1, fillColor: "#807dba", fillOpacity: 0.5}; }, function (k) {
    return "accident " + esc(X.id[k] || "") + " \u00b7 " + esc(X.date[k] || "date unknown") +
      "<br>killed " + fmt(X.killed[k], 0) + ", injured " + fmt(X.injured[k], 0) +
      (X.device[k] ? " \u00b7 " + esc(X.device[k]) : ""); });
  register("Context: accidents", ac, on("accidents"));
  legend(ac, "Accidents", ["<span class='ccm-dot' style='background:#807dba;border-color:" +
    CC.accidents + "'></span>accident (size: casualties)"]);
  ctx.accidents = ac;
}

/* ---- village names: labels from a zoom on, the most populous first, never overlapping ---- */
var names = L.layerGroup();
function placeNames() {
  names.clearLayers();
  if (!C.settlements || D.villageLabelZoom === null || !map.hasLayer(names) ||
      map.getZoom() < D.villageLabelZoom) { return; }
  var T = C.settlements, b = map.getBounds().pad(0.05), cand = [];
  for (var k = 0; k < T.x.length; k++) {
    if (T.label[k] && b.contains([T.y[k] / S, T.x[k] / S])) { cand.push(k); }
  }
  cand.sort(function (a, c) { return (T.pop[c] || 0) - (T.pop[a] || 0) || a - c; });
  var c0 = map.getContainer().getBoundingClientRect();  /* the title and controls stay clear */
  var boxes = Array.prototype.map.call(map.getContainer().querySelectorAll(
    ".ccm-title, .leaflet-control"), function (e) {
    var r = e.getBoundingClientRect();
    return [r.left - c0.left, r.top - c0.top, r.right - c0.left, r.bottom - c0.top]; });
  var fixed = boxes.length;
  for (var j = 0; j < cand.length && boxes.length - fixed < 150; j++) {
    var k2 = cand[j], p = map.latLngToContainerPoint([T.y[k2] / S, T.x[k2] / S]);
    var w = 6.5 * String(T.label[k2]).length + 8, bx = [p.x + 3, p.y - 8, p.x + 3 + w, p.y + 8];
    if (boxes.some(function (o) { return bx[0] < o[2] && o[0] < bx[2] && bx[1] < o[3] && o[1] < bx[3]; })) {
      continue;
    }
    boxes.push(bx);
    names.addLayer(L.tooltip({permanent: true, direction: "right", className: "ccm-vname",
      offset: [2, 0], interactive: false}).setLatLng([T.y[k2] / S, T.x[k2] / S])
      .setContent(esc(T.label[k2])));
  }
}
if (C.settlements && D.villageLabelZoom !== null) {
  register("Context: village names (zoom " + D.villageLabelZoom + "+)", names, true);
  names.on("add", placeNames);
  map.on("moveend", placeNames);
}

/* ---- the hazardous areas: each one drawn once, as its polygon or, while the polygon is
   narrower than MINPX pixels, as a symbol at its centre. Polygons are built when first needed,
   so a country-wide first view decodes no geometry. ---- */
var hazards = L.featureGroup(), POLY = new Array(N), SYM = new Array(N), AS = new Array(N);
var fitted = false;
hazards.bindTooltip(tip, {sticky: true});
/* A click opens the popup of the area under it; where several areas (overlapping symbols at a
   country zoom) are within the click tolerance, a list of them, nearest to the click first. */
var hzPop = L.popup({maxWidth: 380});  /* one popup, reused: never two on the page */
hazards.on("click", function (e) {
  /* the mouse position: for a small circle Leaflet reports the circle's centre as latlng */
  var ev = e.originalEvent, at = ev ? map.mouseEventToLatLng(ev) : e.latlng;
  var pt = map.latLngToContainerPoint(at), lp = map.latLngToLayerPoint(at);
  var tol = R.options.tolerance, hits = [], dist = {};
  hazards.eachLayer(function (l) {
    if (l instanceof L.CircleMarker) {
      var d = map.latLngToContainerPoint(l.getLatLng()).distanceTo(pt);
      if (d <= l.getRadius() + tol) { hits.push(l.ccmIndex); dist[l.ccmIndex] = d; }
    } else if (l._containsPoint && l._pxBounds && l._containsPoint(lp)) {
      hits.push(l.ccmIndex); dist[l.ccmIndex] = 0;
    }
  });
  if (hits.indexOf(e.layer.ccmIndex) === -1) { hits.push(e.layer.ccmIndex); dist[e.layer.ccmIndex] = 0; }
  /* nearest to the click first (the area aimed at), then by priority rank */
  hits.sort(function (a, b) { return dist[a] - dist[b] || B(A.rank[a]) - B(A.rank[b]) || a - b; });
  var pop = hzPop.setLatLng(at);
  if (hits.length === 1) { pop.setContent(popup({ccmIndex: hits[0]})).openOn(map); return; }
  var box = L.DomUtil.create("div", "ccm-pop");
  L.DomUtil.create("div", "ccm-pop-h", box).textContent = hits.length + " areas here";
  hits.slice(0, 12).forEach(function (i) {
    var b = L.DomUtil.create("button", "ccm-pick", box);
    b.type = "button";
    b.innerHTML = swatch(classColor(i), "solid", classStroke(i));
    b.appendChild(document.createTextNode(A.id[i] + (A.name[i] ? " \u2013 " + A.name[i] : "") +
      " \u00b7 " + classLabel(i) + ", rank " + fmt(A.rank[i], 0)));
    L.DomEvent.on(b, "click", function (ev) {
      L.DomEvent.stop(ev); pop.setContent(popup({ccmIndex: i})); });
  });
  if (hits.length > 12) {
    L.DomUtil.create("div", "", box).textContent = "and " + (hits.length - 12) + " more: zoom in";
  }
  pop.setContent(box).openOn(map);
});
function poly(i) {
  if (!POLY[i]) { POLY[i] = L.polygon(ll(i), outline(i, classColor(i))); POLY[i].ccmIndex = i; }
  return POLY[i];
}
function symbol(i) {
  if (!SYM[i]) {
    SYM[i] = L.circleMarker([A.cy[i] / S, A.cx[i] / S], {renderer: R, radius: symbolRadius(i),
      color: classStroke(i), weight: 1, opacity: 1, fillColor: classColor(i), fillOpacity: 0.95,
      hazardId: A.id[i]});
    SYM[i].ccmIndex = i;
  }
  return SYM[i];
}
function updateShapes() {
  if (!fitted || !map.hasLayer(hazards)) { return; }
  var z = map.getZoom(), lowAdded = false, k, i;
  for (k = 0; k < all.length; k++) {  /* low class first: the high class ends on top */
    i = all[k];
    var want = sidePx(i, z) < MINPX;
    if (AS[i] === want) { continue; }
    if (AS[i] !== undefined) { hazards.removeLayer(AS[i] ? SYM[i] : POLY[i]); }
    hazards.addLayer(want ? symbol(i) : poly(i));
    AS[i] = want;
    if (A.cls[i] !== 0) { lowAdded = true; }
  }
  if (lowAdded) {  /* areas shown afresh may cover the high class: bring it back on top */
    for (k = 0; k < all.length; k++) {
      i = all[k];
      if (A.cls[i] === 0 && AS[i] !== undefined) { (AS[i] ? SYM[i] : POLY[i]).bringToFront(); }
    }
  }
}
hazards.on("add", updateShapes);
map.on("zoomend", updateShapes);

var counts = D.classTotals, unclassified = 0;  /* all areas, drawn or aggregated */
A.cls.forEach(function (c) { if (c < 0) { unclassified++; } });
var hz = D.classes.map(function (c, k) {
  return swatch(D.colors[k], "solid", D.strokes[k]) + esc(c) + " (" + fmt(counts[k], 0) + ")"; });
if (unclassified) { hz.push(swatch(GREY) + "unclassified (" + fmt(unclassified, 0) + ")"); }
[["CHA", "solid", "CHA (confirmed): solid outline"],
 ["SHA", "dashed", "SHA (suspected): dashed outline"],
 ["released", "dotted", "released: dotted outline"]].forEach(function (s) {
  if (A.st.indexOf(s[0]) !== -1) { hz.push(swatch("transparent", s[1]) + s[2]); }
});
hz.push("<span class='ccm-dot' style='background:" + D.colors[0] + ";border-color:" +
  D.strokes[0] + "'></span>an area too small to see at this zoom (size: area)");

if (D.aggregate) {
  var G = D.aggregate, agg = L.featureGroup();
  G.g.forEach(function (g, k) {
    var top = G.top[k], fill = top >= 0 ? D.colors[top] : GREY;
    agg.addLayer(L.polygon(shape(g), {renderer: R, color: top >= 0 ? D.strokes[top] : "#555",
      weight: 1, fillColor: fill, fillOpacity: Math.min(0.9, 0.35 + 0.1 * Math.log(1 + G.n[k]))})
      .bindTooltip(fmt(G.n[k], 0) + " more areas (" + fmt(G.high[k], 0) + " high, " +
                   fmt(G.medium[k], 0) + " medium), " + fmt(G.ha[k], 1) + " ha", {sticky: true}));
  });
  register("Other areas (aggregated, " + fmt(G.cellKm, 1) + " km cells)", agg, true);
  legend(agg, "Other areas (aggregated)", [swatch(D.colors[0]) + fmt(G.cellKm, 1) +
    " km cell, coloured by its highest class; count and area in the tooltip"]);
}

/* criteria: one layer per value_<criterion>, coloured by value bins */
var VP = D.valuePalette, nb = VP.length;
D.criteria.forEach(function (key, k) {
  var vals = A.v[k], name = D.criteriaLabels[k];
  var g = lazy(hazardGroup(all, function (i) {
    var v = vals[i];
    var fill = v === null ? GREY : VP[Math.min(nb - 1, Math.floor(v * nb))];
    var st = outline(i, fill, "#333"); st.fillOpacity = 0.85; return st;
  }));
  register("Criterion: " + esc(name), g, false);
  var rows = VP.map(function (c, b) {
    return swatch(c) + fmt(b / nb, 1) + "\u2013" + fmt((b + 1) / nb, 1); });
  rows.push(swatch(GREY) + "no value");
  legend(g, "Criterion: " + esc(name) + " (value 0\u20131)", rows);
});

/* the work plan: one layer per year */
if (D.showPlan) {
  var years = [];
  A.year.forEach(function (y) { if (y !== null && years.indexOf(y) === -1) { years.push(y); } });
  years.sort(function (a, b) { return a - b; });
  years.forEach(function (y, k) {
    var idx = [], cost = 0;
    for (var i = 0; i < N; i++) { if (A.year[i] === y) { idx.push(i); cost += A.cost[i] || 0; } }
    var col = D.planPalette[k % D.planPalette.length];
    var g = lazy(hazardGroup(idx, function (i) { return outline(i, col, "#222"); }));
    register("Plan " + esc(y) + " (" + fmt(idx.length, 0) + " areas starting)", g, false);
    legend(g, "Work plan: work starts in " + esc(y), [swatch(col) + fmt(idx.length, 0) +
      " areas; their planned tasks cost US$ " + fmt(cost, 0) + " (all years)"]);
  });
}

register("Hazardous areas by priority", hazards, true);
legend(hazards, "Hazardous areas: priority", hz, true);

/* controls: layers, legend, search, full screen */
L.control.layers(null, controlOrder(), {collapsed: true}).addTo(map);
L.control.scale({imperial: false, maxWidth: 150, position: "bottomleft"}).addTo(map);
var Legend = L.Control.extend({options: {position: "bottomright"}, onAdd: function () {
  L.DomEvent.disableClickPropagation(legendBox);
  L.DomEvent.disableScrollPropagation(legendBox);
  return legendBox; }});
new Legend().addTo(map);

var lower = A.id.map(function (s) { return String(s).toLowerCase(); });
function zoomTo(i) {
  if (!map.hasLayer(hazards)) { map.addLayer(hazards); }
  var b = L.polygon(ll(i)).getBounds();
  map.fitBounds(b, {maxZoom: 16});
  L.popup({maxWidth: 380}).setLatLng(b.getCenter()).setContent(popup({ccmIndex: i})).openOn(map);
}
var Search = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
  var box = L.DomUtil.create("div", "ccm-search leaflet-bar");
  var input = L.DomUtil.create("input", "", box);
  input.type = "search"; input.placeholder = "Find hazard id";
  input.setAttribute("aria-label", "Find a hazardous area by id");
  var list = L.DomUtil.create("div", "", box);
  L.DomEvent.disableClickPropagation(box);
  L.DomEvent.disableScrollPropagation(box);
  function hits() {
    var q = input.value.trim().toLowerCase(), out = [];
    if (!q) { return out; }
    for (var i = 0; i < N && out.length < 8; i++) { if (lower[i] === q) { out.push(i); } }
    for (var j = 0; j < N && out.length < 8; j++) {
      if (lower[j] !== q && lower[j].indexOf(q) !== -1) { out.push(j); }
    }
    return out;
  }
  function show() {
    list.textContent = "";
    if (!input.value.trim()) { return; }
    var h = hits();
    if (!h.length) {
      var miss = L.DomUtil.create("div", "ccm-miss", list);
      miss.textContent = "No drawn area has an id containing \u201c" + input.value + "\u201d";
      return;
    }
    h.forEach(function (i) {
      var b = L.DomUtil.create("button", "", list);
      b.type = "button";
      b.textContent = A.id[i] + (A.name[i] ? " \u2013 " + A.name[i] : "");
      L.DomEvent.on(b, "click", function () { zoomTo(i); list.textContent = ""; });
    });
  }
  input.addEventListener("input", show);
  input.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    var h = hits();
    if (h.length) { zoomTo(h[0]); list.textContent = ""; }
  });
  return box; }});
new Search().addTo(map);

var FS_ICON = "<svg width='16' height='16' viewBox='0 0 16 16' style='margin-top:5px' " +
  "aria-hidden='true'><path d='M1 6V1h5M10 1h5v5M15 10v5h-5M6 15H1v-5' fill='none' " +
  "stroke='#222' stroke-width='2'/></svg>";
var Full = L.Control.extend({options: {position: "topleft"}, onAdd: function () {
  var bar = L.DomUtil.create("div", "leaflet-bar");
  var a = L.DomUtil.create("a", "ccm-fs", bar);
  a.setAttribute("role", "button"); a.title = "Full screen"; a.href = "#";
  a.setAttribute("aria-label", "Full screen");
  a.innerHTML = FS_ICON;
  L.DomEvent.on(a, "click", function (e) {
    L.DomEvent.preventDefault(e);
    var el = map.getContainer();
    if (document.fullscreenElement) { document.exitFullscreen(); }
    else if (el.requestFullscreen) { el.requestFullscreen(); }
  });
  L.DomEvent.disableClickPropagation(bar);
  return bar; }});
new Full().addTo(map);
document.addEventListener("fullscreenchange", function () { map.invalidateSize(); });
if (map.getSize().y < 500) { legendBox.classList.add("ccm-collapsed"); }

/* The first view shows the areas: a legend covering a tenth of them starts folded. */
function foldLegendOffData() {
  var a = map.latLngToContainerPoint(D.bounds[0]), b = map.latLngToContainerPoint(D.bounds[1]);
  var c0 = map.getContainer().getBoundingClientRect(), r = legendBox.getBoundingClientRect();
  var x0 = Math.min(a.x, b.x), x1 = Math.max(a.x, b.x), y0 = Math.min(a.y, b.y);
  var y1 = Math.max(a.y, b.y), lx0 = r.left - c0.left, ly0 = r.top - c0.top;
  var ox = Math.max(0, Math.min(x1, lx0 + r.width) - Math.max(x0, lx0));
  var oy = Math.max(0, Math.min(y1, ly0 + r.height) - Math.max(y0, ly0));
  if (ox * oy > 0.1 * Math.max(1, (x1 - x0) * (y1 - y0))) { legendBox.classList.add("ccm-collapsed"); }
}
/* Fit the areas in view. An embedded map (an iframe in a report) may run before its frame has
   a size; fitting then gives NaN coordinates, so wait until the frame is laid out. */
function fit() {
  var size = map.invalidateSize({pan: false}).getSize();
  if (!D.bounds || size.x <= 0 || size.y <= 0) { return false; }
  var e = edges();
  map.fitBounds(D.bounds, {paddingTopLeft: [Math.min(e[0].x, size.x / 4), Math.min(e[0].y,
    size.y / 4)], paddingBottomRight: [20, 20]});
  fitted = true;
  updateShapes();
  foldLegendOffData();
  return true;
}
if (!fit()) {
  var waited = 0;
  (function again() { if (!fit() && (waited += 1) < 400) { setTimeout(again, 25); } })();
}
window.ccm = {map: map, hazards: hazards, layers: overlays, context: ctx,
              names: names, expected: N, minPx: MINPX,
              count: function (layer) {
                var n = 0;
                (layer || hazards).eachLayer(function (l) { if (l instanceof L.Path) { n++; } });
                return n; },
              shown: function () {  /* areas on the map as a symbol, and as a polygon */
                var sym = 0, pol = 0;
                hazards.eachLayer(function (l) {
                  if (l instanceof L.CircleMarker) { sym++; } else if (l instanceof L.Path) { pol++; }
                });
                return {symbols: sym, polygons: pol}; }};
requestAnimationFrame(function () {
  requestAnimationFrame(function () { window.ccmReady = true; });
});
})();
