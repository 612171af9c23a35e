// wiretrace report: renders the trace list, filters and waterfalls from
// the JSON document in #wiretrace-data. No network access.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('wiretrace-data').textContent);
  var byId = function (id) { return document.getElementById(id); };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else if (k === 'style') e.setAttribute('style', attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    (kids || []).forEach(function (c) {
      if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  function fmtDur(ns) {
    function t(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
    if (ns < 1000) return ns + 'ns';
    if (ns < 1e6) return t(ns / 1e3) + 'µs';
    if (ns < 1e9) return t(ns / 1e6) + 'ms';
    return t(ns / 1e9) + 's';
  }

  var palette = { http: '#5b8def', http2: '#3aa3c4', grpc: '#16b1a6', mysql: '#e69532', postgresql: '#7a5af8',
    redis: '#e0524b', kafka: '#53b14f', dns: '#9e77ed' };
  function protoColour(p) {
    if (palette[p]) return palette[p];
    var h = 0;
    for (var i = 0; i < p.length; i++) h = (h * 31 + p.charCodeAt(i)) % 360;
    return 'hsl(' + h + ',55%,55%)';
  }

  var reasons = {
    x_request_id: 'same X-Request-ID, enclosed in time by the parent served by the calling host',
    trace_header: 'same trace id in a trace header (traceparent, B3, uber-trace-id, sw8)',
    sql_comment: 'trace context in an SQL comment',
    kafka_correlation: 'Kafka produce/fetch of the same record',
    tcp_seq: 'the same exchange (same endpoints and TCP sequence numbers) seen at another capture point',
    timing: 'enclosed in time by a request served by the calling host',
    '': 'root: no parent was found'
  };

  // Summary.
  var totalSpans = 0;
  data.traces.forEach(function (t) { totalSpans += t.spans.length; });
  byId('n-spans').textContent = String(totalSpans);
  byId('n-traces').textContent = String(data.traces.length);
  byId('n-services').textContent = String(data.services.length);

  // Filters.
  var fService = byId('f-service'), fOp = byId('f-op'), fStatus = byId('f-status'), fMin = byId('f-min');
  var services = {};
  data.services.forEach(function (s) { services[s.name] = true; });
  data.traces.forEach(function (t) { t.services.forEach(function (s) { services[s] = true; }); });
  Object.keys(services).sort().forEach(function (s) { fService.appendChild(el('option', { value: s, text: s })); });

  function matches(t) {
    var svc = fService.value, op = fOp.value.trim().toLowerCase(), st = fStatus.value, mn = parseFloat(fMin.value);
    if (svc && t.services.indexOf(svc) < 0) return false;
    if (st === 'not-ok' ? t.status === 'ok' : st && t.status !== st) return false;
    if (!isNaN(mn) && t.dur < mn * 1e6) return false;
    if (op) {
      var hit = false;
      for (var i = 0; i < t.spans.length && !hit; i++) hit = t.spans[i].name.toLowerCase().indexOf(op) >= 0;
      if (!hit) return false;
    }
    return true;
  }

  var tbody = document.querySelector('#trace-list tbody');
  var selected = -1;
  function renderList() {
    tbody.textContent = '';
    var shown = 0;
    data.traces.forEach(function (t, i) {
      if (!matches(t)) return;
      shown++;
      var tr = el('tr', { cls: 'trace-row' + (i === selected ? ' selected' : ''), 'data-index': String(i), 'data-trace-id': t.id }, [
        el('td', null, [el('span', { cls: 'dot ' + t.status, title: t.status + (t.errors ? ', ' + t.errors + ' span(s) not ok' : '') })]),
        el('td', { cls: 'num', text: fmtDur(t.dur) }),
        el('td', { text: t.root }),
        el('td', { cls: 'num', text: String(t.span_count) }),
        el('td', { text: t.services.join(', ') }),
        el('td', { text: t.start.replace('T', ' ').replace('Z', '') }),
        el('td', { cls: 'id', text: t.id })
      ]);
      tr.addEventListener('click', function () { showTrace(i); });
      tbody.appendChild(tr);
    });
    byId('f-count').textContent = shown + ' of ' + data.traces.length + ' traces';
  }
  [fService, fStatus].forEach(function (e) { e.addEventListener('change', renderList); });
  [fOp, fMin].forEach(function (e) { e.addEventListener('input', renderList); });
  byId('f-clear').addEventListener('click', function () {
    fService.value = ''; fOp.value = ''; fStatus.value = ''; fMin.value = '';
    markService('');
    renderList();
  });

  function markService(name) {
    Array.prototype.forEach.call(document.querySelectorAll('#service-map .node'), function (n) {
      n.classList.toggle('selected', n.getAttribute('data-service') === name);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('#service-map .node'), function (n) {
    n.addEventListener('click', function () {
      var name = n.getAttribute('data-service');
      fService.value = fService.value === name ? '' : name;
      markService(fService.value);
      renderList();
    });
  });

  // Waterfall rows: a span and the views of the same exchange at other
  // capture points (its tcp_seq children) share one row, side by side.
  function buildRows(t) {
    var spans = {}, kids = {};
    t.spans.forEach(function (s) { spans[s.id] = s; });
    t.spans.forEach(function (s) {
      var p = s.parent && spans[s.parent] ? s.parent : '';
      (kids[p] = kids[p] || []).push(s);
    });
    var order = function (a, b) { return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0); };
    var rows = [];
    function walk(s, depth) {
      var group = [s];
      for (var i = 0; i < group.length && depth < 256; i++) {
        (kids[group[i].id] || []).forEach(function (k) { if (k.link_reason === 'tcp_seq') group.push(k); });
      }
      rows.push({ spans: group, depth: depth });
      var next = [];
      group.forEach(function (g) {
        (kids[g.id] || []).forEach(function (k) { if (k.link_reason !== 'tcp_seq') next.push(k); });
      });
      next.sort(order);
      if (depth < 256) next.forEach(function (k) { walk(k, depth + 1); });
    }
    (kids[''] || []).sort(order).forEach(function (r) { walk(r, 0); });
    return rows;
  }

  function showTrace(i) {
    selected = i;
    Array.prototype.forEach.call(tbody.querySelectorAll('tr.trace-row'), function (tr) {
      tr.classList.toggle('selected', tr.getAttribute('data-index') === String(i));
    });
    var t = data.traces[i], wf = byId('waterfall');
    byId('wf-title').textContent = '— ' + t.root + ' (' + fmtDur(t.dur) + ', ' + t.span_count + ' spans)';
    wf.textContent = '';
    byId('details').textContent = '';
    var legend = byId('legend');
    legend.textContent = '';
    t.protocols.forEach(function (p) { legend.appendChild(el('span', { cls: 'chip', style: 'background:' + protoColour(p), text: p })); });
    legend.appendChild(document.createTextNode(' captured at: ' + t.captures.join(', ') + (t.spans_omitted ? ' — ' + t.spans_omitted + ' spans left out' : '')));

    var total = Math.max(t.dur, 1);
    var grid = el('div', { cls: 'wf', 'data-trace-id': t.id });
    var axis = el('div', { cls: 'wf-axis' });
    [0, 0.25, 0.5, 0.75, 1].forEach(function (f, k) {
      axis.appendChild(el('span', { cls: k === 0 ? 'first' : k === 4 ? 'last' : '', style: 'left:' + (f * 100) + '%', text: fmtDur(Math.round(total * f)) }));
    });
    grid.appendChild(el('div', { cls: 'wf-axis' }, [el('span', { cls: 'first', style: 'left:0', text: 'operation' })]));
    grid.appendChild(axis);
    buildRows(t).forEach(function (row) {
      var first = row.spans[0];
      var lane = row.spans.length > 1 ? 14 : 16, height = lane * row.spans.length + 6;
      var label = el('div', { cls: 'wf-label', style: 'padding-left:' + (row.depth * 16 + 4) + 'px;height:' + height + 'px' }, [
        el('span', { cls: 'chip', style: 'background:' + protoColour(first.protocol), text: first.protocol }),
        el('span', { cls: 'status-' + first.status, text: first.name, title: first.client_svc + ' → ' + first.server_svc })
      ]);
      row.spans.forEach(function (s) { label.appendChild(el('span', { cls: 'cap', title: s.side, text: s.capture })); });
      var track = el('div', { cls: 'wf-track', style: 'height:' + height + 'px' });
      row.spans.forEach(function (s, k) {
        var left = s.start / total * 100, width = Math.max(s.dur / total * 100, 0);
        var bar = el('div', {
          cls: 'span-bar status-' + s.status, 'data-span-id': s.id, 'data-link-reason': s.link_reason,
          title: s.name + ' — ' + fmtDur(s.dur) + ' at ' + s.capture + ' (' + s.status + ')',
          style: 'left:' + left + '%;width:' + width + '%;top:' + (3 + k * lane) + 'px;height:' + (lane - 3) + 'px;background-color:' + protoColour(s.protocol)
        });
        bar.addEventListener('click', function () { showSpan(t, row, s, bar); });
        track.appendChild(bar);
        var txt = fmtDur(s.dur) + (row.spans.length > 1 ? ' @ ' + s.capture : '');
        var textStyle = left + width > 70 ? 'right:' + (100 - left + 0.5) + '%' : 'left:' + (left + width + 0.5) + '%';
        track.appendChild(el('span', { cls: 'bar-text', style: textStyle + ';top:' + (1 + k * lane) + 'px', text: txt }));
      });
      grid.appendChild(label);
      grid.appendChild(track);
    });
    wf.appendChild(grid);
  }

  function kv(title, obj) {
    var keys = Object.keys(obj || {}).sort();
    var rows = keys.map(function (k) { return el('tr', null, [el('th', { text: k }), el('td', { text: String(obj[k]) })]); });
    if (!rows.length) rows.push(el('tr', null, [el('td', { text: '(none)' })]));
    return el('table', null, [el('caption', null, [el('h3', { text: title })])].concat(rows));
  }

  function showSpan(t, row, s, bar) {
    Array.prototype.forEach.call(document.querySelectorAll('.span-bar.selected'), function (b) { b.classList.remove('selected'); });
    bar.classList.add('selected');
    var d = byId('details');
    d.textContent = '';
    var info = {
      name: s.name, protocol: s.protocol, status: s.status,
      duration: fmtDur(s.dur), 'start (from trace start)': fmtDur(s.start),
      client: s.client + ' (' + s.client_svc + ')', server: s.server + ' (' + s.server_svc + ')',
      'capture point': s.capture + ' (side: ' + s.side + ')',
      'link reason': (s.link_reason || 'root') + ' — ' + (reasons[s.link_reason] || ''),
      'span id': s.id, 'parent span id': s.parent || '(none)'
    };
    d.appendChild(kv('span', info));
    d.appendChild(kv('attributes', s.attributes));
    d.appendChild(kv('links', s.links));
    if (row.spans.length > 1) {
      var views = {};
      row.spans.forEach(function (v) {
        views[v.capture + ' ' + v.id] = fmtDur(v.dur) + ', starts ' + (v.start - row.spans[0].start >= 0 ? '+' : '') + fmtDur(Math.abs(v.start - row.spans[0].start)) + (v.start < row.spans[0].start ? ' earlier' : '') + ' (' + v.side + ')';
      });
      d.appendChild(kv('same exchange at ' + row.spans.length + ' capture points', views));
    }
  }

  renderList();
  // #trace=ID[&span=ID] opens a trace (and a span's details), so a report
  // link can point at one.
  var want = {};
  location.hash.replace(/^#/, '').split('&').forEach(function (kv) {
    var p = kv.split('=');
    if (p.length === 2) want[p[0]] = decodeURIComponent(p[1]);
  });
  var ti = 0;
  data.traces.forEach(function (t, i) { if (t.id === want.trace) ti = i; });
  if (data.traces.length) showTrace(ti);
  if (want.span) {
    var bar = document.querySelector('.span-bar[data-span-id="' + want.span.replace(/[^0-9a-f]/g, '') + '"]');
    if (bar) bar.click();
  }
  document.body.setAttribute('data-rendered', '1');
})();
