"""One self-contained HTML page per run: headline figures first, then a sortable, filterable per-item table.

The page has no network dependency (no CDN, no fonts, plots inlined as PNG data URIs) and about 4 KB of plain
JavaScript, so it opens from disk and survives being e-mailed. Every text that comes from the data reaches the
page in one of two ways, both inert: escaped by ``html.escape`` in the server-rendered parts, or inside a
``<script type="application/json">`` block (with ``<``, ``>`` and ``&`` written as JSON escapes) that the script
reads and puts into the DOM with ``textContent`` only. A sample containing ``<script>`` shows as text.

The table paginates (100 rows a page), so a 10,000-item run stays responsive; the file grows with the items' text.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field

__all__ = ["Column", "Filter", "Headline", "Plot", "Section", "Table", "render_page"]


@dataclass(frozen=True)
class Headline:
    """One headline figure: ``value`` is the point estimate as shown; ``detail`` its interval, n and method."""
    label: str
    value: str
    detail: str = ""
    verdict: str = ""  # a short word shown as a badge ("above target", "flagged", ...)


@dataclass(frozen=True)
class Section:
    """A block of prose and/or a two-column table of (label, value) pairs."""
    heading: str
    paragraphs: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    preformatted: bool = False  # paragraphs keep their line breaks (a memo written as Markdown)


@dataclass(frozen=True)
class Plot:
    caption: str
    png: bytes


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Filter:
    """A filter on the table. ``kind="flag"``: a checkbox keeping rows whose ``tags`` contain ``key``;
    ``kind="choice"``: a drop-down over the distinct values of the column ``key``."""
    key: str
    label: str
    kind: str = "flag"


@dataclass
class Table:
    """Rows are dicts with ``cells`` ({column key: value}), ``tags`` (filter keys that apply) and ``detail``
    (a list of ``[title, text]`` shown when the row is opened)."""
    columns: list[Column]
    rows: list[dict]
    filters: list[Filter] = field(default_factory=list)
    title: str = "Items"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;opacity:.85}main{padding:16px 24px;max-width:1400px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.card{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:10px 14px;min-width:180px;flex:1 1 200px}
.card .l{font-size:12px;color:#566;text-transform:uppercase;letter-spacing:.03em}.card .v{font-size:22px;font-weight:600}
.card .d{font-size:12px;color:#444}.badge{display:inline-block;font-size:11px;padding:1px 6px;border-radius:9px;
background:#e8eef7;color:#1f3a5f;margin-left:6px;vertical-align:middle}
section{background:#fff;border:1px solid #d9dee5;border-radius:6px;padding:10px 14px;margin-bottom:14px}
section h2{font-size:16px;margin:4px 0 8px}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e6e9ee;padding:4px 6px;text-align:left;vertical-align:top}
th{cursor:pointer;background:#eef1f5;user-select:none;white-space:nowrap}th.asc:after{content:" \\25B2"}
th.desc:after{content:" \\25BC"}#items tbody tr{cursor:pointer}#items tbody tr:hover{background:#f2f6fb}
td.n{text-align:right;font-variant-numeric:tabular-nums}.controls{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0}
.controls label{white-space:nowrap}#detail{white-space:pre-wrap;background:#fbfcfd;border:1px solid #c9d3df;
padding:10px;border-radius:6px;margin-top:10px}#detail h3{margin:8px 0 2px;font-size:13px}
.plots img{max-width:100%;border:1px solid #e6e9ee;margin:4px 0}.kv td:first-child{color:#455;width:30%}
.pre{white-space:pre-wrap}.clip{max-width:420px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
"""

# Plain JavaScript, no dependencies. Data arrives as JSON; every value goes into the DOM through textContent.
_JS = """
(function(){
var D=JSON.parse(document.getElementById('data').textContent),cols=D.columns,rows=D.rows,PAGE=100;
var st={key:null,dir:1,q:'',flags:{},choice:{},page:0};
var tb=document.querySelector('#items tbody'),info=document.getElementById('info'),det=document.getElementById('detail');
function txt(v){return v===null||v===undefined?'':String(v);}
function keep(r){for(var f in st.flags){if(st.flags[f]&&r.tags.indexOf(f)<0)return false;}
 for(var c in st.choice){if(st.choice[c]!==''&&txt(r.cells[c])!==st.choice[c])return false;}
 if(st.q){var s=st.q,hit=false;for(var k in r.cells){if(txt(r.cells[k]).toLowerCase().indexOf(s)>=0){hit=true;break;}}
  if(!hit){for(var i=0;i<r.detail.length;i++){if(txt(r.detail[i][1]).toLowerCase().indexOf(s)>=0){hit=true;break;}}}
  if(!hit)return false;}return true;}
function cmp(a,b){var x=a.cells[st.key],y=b.cells[st.key];if(x===y)return 0;if(x===null||x===undefined)return 1;
 if(y===null||y===undefined)return -1;return (typeof x==='number'&&typeof y==='number'?x-y:txt(x).localeCompare(txt(y)))*st.dir;}
function show(r){det.textContent='';var h=document.createElement('h3');h.textContent=txt(r.cells[cols[0].key]);det.appendChild(h);
 r.detail.forEach(function(p){var t=document.createElement('h3');t.textContent=p[0];var b=document.createElement('div');
 b.textContent=txt(p[1]);det.appendChild(t);det.appendChild(b);});det.hidden=false;det.scrollIntoView({block:'nearest'});}
function draw(){var v=rows.filter(keep);if(st.key!==null)v.sort(cmp);var pages=Math.max(1,Math.ceil(v.length/PAGE));
 if(st.page>=pages)st.page=pages-1;tb.textContent='';v.slice(st.page*PAGE,(st.page+1)*PAGE).forEach(function(r){
 var tr=document.createElement('tr');cols.forEach(function(c){var td=document.createElement('td');td.textContent=txt(r.cells[c.key]);
 if(c.numeric)td.className='n';else td.className='clip';tr.appendChild(td);});tr.onclick=function(){show(r);};tb.appendChild(tr);});
 info.textContent=v.length+' of '+rows.length+' rows; page '+(st.page+1)+' of '+pages;}
document.querySelectorAll('#items th').forEach(function(th,i){th.onclick=function(){var k=cols[i].key;
 st.dir=st.key===k?-st.dir:1;st.key=k;document.querySelectorAll('#items th').forEach(function(o){o.className='';});
 th.className=st.dir>0?'asc':'desc';draw();};});
document.querySelectorAll('input[data-flag]').forEach(function(cb){cb.onchange=function(){st.flags[cb.dataset.flag]=cb.checked;st.page=0;draw();};});
document.querySelectorAll('select[data-choice]').forEach(function(s){s.onchange=function(){st.choice[s.dataset.choice]=s.value;st.page=0;draw();};});
document.getElementById('q').oninput=function(e){st.q=e.target.value.toLowerCase();st.page=0;draw();};
document.getElementById('prev').onclick=function(){if(st.page>0){st.page--;draw();}};
document.getElementById('next').onclick=function(){st.page++;draw();};
draw();})();
"""


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def _json_for_script(obj: object) -> str:
    """JSON that cannot end the <script> element it sits in, nor open a comment or an entity."""
    return (json.dumps(obj, ensure_ascii=False, allow_nan=False, default=str)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _cards(headlines: list[Headline]) -> str:
    out = []
    for h in headlines:
        badge = f'<span class="badge">{_e(h.verdict)}</span>' if h.verdict else ""
        out.append(f'<div class="card" data-label="{_e(h.label)}"><div class="l">{_e(h.label)}</div>'
                   f'<div class="v">{_e(h.value)}{badge}</div><div class="d">{_e(h.detail)}</div></div>')
    return f'<div class="cards" id="headlines">{"".join(out)}</div>' if out else ""


def _section(s: Section) -> str:
    cls = ' class="pre"' if s.preformatted else ""
    body = "".join(f"<p{cls}>{_e(p)}</p>" for p in s.paragraphs)
    if s.pairs:
        body += '<table class="kv">' + "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in s.pairs) + \
                "</table>"
    return f"<section><h2>{_e(s.heading)}</h2>{body}</section>"


def _table(t: Table) -> str:
    controls = ['<input id="q" type="search" placeholder="search text" aria-label="search">']
    for f in t.filters:
        if f.kind == "flag":
            controls.append(f'<label><input type="checkbox" data-flag="{_e(f.key)}"> {_e(f.label)}</label>')
        else:
            values = sorted({"" if r["cells"].get(f.key) is None else str(r["cells"].get(f.key)) for r in t.rows})
            opts = '<option value="">all</option>' + "".join(f'<option value="{_e(v)}">{_e(v)}</option>'
                                                              for v in values)
            controls.append(f'<label>{_e(f.label)} <select data-choice="{_e(f.key)}">{opts}</select></label>')
    head = "".join(f"<th>{_e(c.label)}</th>" for c in t.columns)
    return (f'<section><h2>{_e(t.title)}</h2><div class="controls">{"".join(controls)}</div>'
            f'<table id="items"><thead><tr>{head}</tr></thead><tbody></tbody></table>'
            f'<div class="controls"><button id="prev" type="button">previous</button><span id="info"></span>'
            f'<button id="next" type="button">next</button></div><div id="detail" hidden></div></section>')


def render_page(title: str, subtitle: str, headlines: list[Headline], sections: list[Section],
                table: Table | None = None, plots: list[Plot] | None = None) -> str:
    """The whole page as one string (UTF-8, no external references)."""
    plot_html = ""
    if plots:
        imgs = "".join(f'<figure><img alt="{_e(p.caption)}" src="data:image/png;base64,'
                       f'{base64.b64encode(p.png).decode("ascii")}"><figcaption>{_e(p.caption)}</figcaption></figure>'
                       for p in plots)
        plot_html = f'<section class="plots"><h2>Plots</h2>{imgs}</section>'
    table = table or Table(columns=[Column("id", "id")], rows=[])
    data = {"columns": [{"key": c.key, "label": c.label, "numeric": c.numeric} for c in table.columns],
            "rows": [{"cells": r.get("cells", {}), "tags": list(r.get("tags", [])),
                      "detail": [[str(a), "" if b is None else str(b)] for a, b in r.get("detail", [])]}
                     for r in table.rows]}
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{_e(title)}</h1><p>{_e(subtitle)}</p></header><main>"
            f"{_cards(headlines)}{''.join(_section(s) for s in sections)}{plot_html}{_table(table)}</main>"
            f'<script type="application/json" id="data">{_json_for_script(data)}</script>'
            f"<script>{_JS}</script></body></html>\n")
