"use strict";
(function () {
  // Columns of a row, as htmlreport.Add writes them.
  var LINE = 0, PHONE = 1, ACTION = 2, RESULT = 3, CHANGED = 4, FIRST_OLD = 5, FIRST_NEW = 6,
    LAST_OLD = 7, LAST_NEW = 8, IMAGE_OLD = 9, IMAGE_NEW = 10, STATUS = 11, CODE = 12,
    MESSAGE = 13, ATTEMPTS = 14, TRACE = 15;
  var OVERSCAN = 10;
  var rows = JSON.parse(document.getElementById("data").textContent);
  var list = document.getElementById("list");
  var spacer = document.getElementById("spacer");
  var holder = document.getElementById("rows");
  var shown = document.getElementById("shown");
  var fAction = document.getElementById("f-action");
  var fResult = document.getElementById("f-result");
  var fSearch = document.getElementById("f-search");
  var rowHeight = parseFloat(getComputedStyle(document.documentElement).getPropertyValue("--row")) || 64;
  var items = []; // the filtered list: a row index, or {group, n} for a heading
  var matched = 0;
  var haystacks = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== "") e.textContent = String(text);
    return e;
  }

  function haystack(r) {
    return [r[LINE], r[PHONE], r[FIRST_OLD], r[FIRST_NEW], r[LAST_OLD], r[LAST_NEW],
      r[MESSAGE], r[TRACE], r[CODE]].join("\n").toLowerCase();
  }

  function filter() {
    var a = fAction.value, res = fResult.value, q = fSearch.value.trim().toLowerCase();
    if (q && !haystacks) haystacks = rows.map(haystack);
    items = [];
    matched = 0;
    var group = null, heading = null;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      if ((a && r[ACTION] !== a) || (res && r[RESULT] !== res) || (q && haystacks[i].indexOf(q) < 0)) continue;
      if (r[ACTION] !== group) {
        group = r[ACTION];
        heading = { group: group, n: 0 };
        items.push(heading);
      }
      heading.n++;
      matched++;
      items.push(i);
    }
    shown.textContent = "Showing " + matched + " of " + rows.length + " rows";
    spacer.style.height = (items.length * rowHeight) + "px";
    list.scrollTop = 0;
    draw();
  }

  // changed marks the part of b that differs from a: common prefix and
  // suffix stay plain, the middle is highlighted.
  function changed(tag, a, b) {
    var e = el(tag);
    var p = 0;
    while (p < a.length && p < b.length && a[p] === b[p]) p++;
    var s = 0;
    while (s < a.length - p && s < b.length - p && a[a.length - 1 - s] === b[b.length - 1 - s]) s++;
    e.appendChild(document.createTextNode(b.slice(0, p)));
    e.appendChild(el("mark", "", b.slice(p, b.length - s)));
    e.appendChild(document.createTextNode(b.slice(b.length - s)));
    return e;
  }

  function field(name, oldV, newV, isChanged) {
    var f = el("span", "field");
    f.appendChild(el("span", "name", name + ": "));
    if (isChanged) {
      if (oldV) f.appendChild(changed("del", newV, oldV));
      else f.appendChild(el("del", "", "(empty)"));
      f.appendChild(document.createTextNode(" → "));
      if (newV) f.appendChild(changed("ins", oldV, newV));
      else f.appendChild(el("ins", "", "(empty)"));
    } else {
      f.appendChild(el("span", "same", newV || oldV));
    }
    f.title = name + ": " + oldV + (isChanged ? " → " + newV : "");
    return f;
  }

  // image shows an https URL as a lazy thumbnail; anything else as text,
  // so the page never loads plain http or other schemes.
  function image(url) {
    if (!url) return el("span", "url same", "none");
    if (/^https:\/\//i.test(url)) {
      var img = el("img");
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      img.alt = "";
      img.title = url;
      img.addEventListener("error", function () {
        var t = el("span", "url", url);
        t.title = url + " (could not be loaded)";
        if (img.parentNode) img.parentNode.replaceChild(t, img);
      });
      img.src = url;
      return img;
    }
    var t = el("span", "url", url);
    t.title = url;
    return t;
  }

  function drawRow(r) {
    var e = el("div", "row");
    e.dataset.line = r[LINE];
    e.dataset.action = r[ACTION];
    e.dataset.result = r[RESULT];
    e.appendChild(el("div", "cell line", r[LINE]));
    e.appendChild(el("div", "cell phone", r[PHONE]));
    var badges = el("div", "cell");
    badges.appendChild(el("span", "badge a-" + r[ACTION], r[ACTION]));
    badges.appendChild(el("span", "badge r-" + r[RESULT], r[RESULT]));
    e.appendChild(badges);
    var names = r[CHANGED] ? r[CHANGED].split("|") : [];
    var fields = el("div", "cell fields");
    fields.appendChild(field("first_name", r[FIRST_OLD], r[FIRST_NEW], names.indexOf("first_name") >= 0));
    fields.appendChild(field("last_name", r[LAST_OLD], r[LAST_NEW], names.indexOf("last_name") >= 0));
    e.appendChild(fields);
    var imgs = el("div", "cell imgs");
    if (names.indexOf("image_url") >= 0) {
      imgs.appendChild(image(r[IMAGE_OLD]));
      imgs.appendChild(document.createTextNode("→"));
      imgs.appendChild(image(r[IMAGE_NEW]));
    } else if (r[IMAGE_OLD] || r[IMAGE_NEW]) {
      imgs.appendChild(image(r[IMAGE_OLD] || r[IMAGE_NEW]));
    }
    e.appendChild(imgs);
    var err = el("div", "cell err");
    if (r[STATUS] || r[CODE]) {
      err.appendChild(el("span", "code", [r[STATUS] && "HTTP " + r[STATUS], r[CODE] && "code " + r[CODE]].filter(Boolean).join(", ") + " "));
    }
    if (r[MESSAGE]) err.appendChild(el("span", "msg", r[MESSAGE]));
    if (r[TRACE]) err.appendChild(el("div", "trace", "trace " + r[TRACE] + (r[ATTEMPTS] > 1 ? " · " + r[ATTEMPTS] + " attempts" : "")));
    err.title = err.textContent;
    e.appendChild(err);
    return e;
  }

  // draw renders the items in view, and a few around them, only.
  function draw() {
    var first = Math.max(0, Math.floor(list.scrollTop / rowHeight) - OVERSCAN);
    var last = Math.min(items.length, Math.ceil((list.scrollTop + list.clientHeight) / rowHeight) + OVERSCAN);
    var frag = document.createDocumentFragment();
    for (var i = first; i < last; i++) {
      var it = items[i];
      var e = typeof it === "number" ? drawRow(rows[it]) : el("div", "group", it.group + " (" + it.n + ")");
      e.style.top = (i * rowHeight) + "px";
      frag.appendChild(e);
    }
    holder.replaceChildren(frag);
  }

  var pending = false;
  list.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () { pending = false; draw(); });
  });
  window.addEventListener("resize", draw);
  fAction.addEventListener("change", filter);
  fResult.addEventListener("change", filter);
  var timer = 0;
  fSearch.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(filter, 120);
  });
  document.getElementById("filters").addEventListener("submit", function (ev) { ev.preventDefault(); });
  filter();
  document.body.dataset.ready = "true";
})();
