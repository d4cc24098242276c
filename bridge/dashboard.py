"""The dashboard page: plain HTML and a little script that polls /api/state every two
seconds. No build step; nothing is loaded from outside the bridge."""

from __future__ import annotations

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Fondation worker</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#f7f8fa}
 h1{font-size:1.3rem;margin:0 0 .2rem} h2{font-size:1.05rem;margin:1.4rem 0 .5rem}
 table{border-collapse:collapse;width:100%;background:#fff}
 th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6eb;vertical-align:top}
 .steps{display:flex;gap:3px} .step{width:18px;height:14px;border-radius:3px;background:#dfe3ea}
 .step.started{background:#f0b429} .step.completed{background:#3ba55c}
 .st{font-weight:600} .st.failed,.st.dead{color:#c62828} .st.completed{color:#2e7d32}
 .muted{color:#6b7280} code{font-size:12px}
</style></head>
<body>
<h1>Fondation worker</h1>
<div class="muted" id="meta">loading...</div>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>Job</th><th>Status</th><th>Steps</th><th>Progress</th>
<th>Attempts</th><th>Tasks</th></tr></thead><tbody></tbody></table>
<h2>Workers and queues</h2>
<table id="workers"><thead><tr><th>Worker</th><th>Queues</th></tr></thead><tbody></tbody></table>
<p id="queues" class="muted"></p>
<h2>Claude</h2>
<p id="claude" class="muted">not in use</p>
<h2>Recent failures</h2>
<table id="failures"><thead><tr><th>Job</th><th>Status</th><th>Last error</th></tr></thead>
<tbody></tbody></table>
<script>
function cell(text, cls){const td=document.createElement('td');
  if(cls) td.className=cls; td.textContent=text==null?'':String(text); return td;}
function fill(id, rows){const body=document.querySelector('#'+id+' tbody');
  body.replaceChildren(...rows);}
async function refresh(){
  let s;
  try { s = await (await fetch('/api/state', {cache:'no-store'})).json(); }
  catch(e){ document.getElementById('meta').textContent='bridge unreachable'; return; }
  document.getElementById('meta').textContent='bridge '+s.bridge+' | '+
    Object.entries(s.counts).map(([k,v])=>k+': '+v).join(', ');
  fill('jobs', s.jobs.map(j=>{
    const tr=document.createElement('tr'); tr.dataset.job=j.id; tr.dataset.status=j.status;
    tr.append(cell(j.id), cell(j.status,'st '+j.status));
    const steps=document.createElement('td'); const bar=document.createElement('div');
    bar.className='steps';
    j.steps.forEach(st=>{const d=document.createElement('div'); d.className='step '+st.state;
      d.title=st.name+': '+st.state; bar.append(d);});
    steps.append(bar); tr.append(steps, cell(j.progress), cell(j.attempts));
    const t=document.createElement('td');
    if(j.flower){const a=document.createElement('a'); a.href=j.flower; a.textContent='Flower';
      t.append(a);}
    tr.append(t); return tr;}));
  fill('workers', s.workers.map(w=>{const tr=document.createElement('tr');
    tr.append(cell(w.name), cell(w.queues)); return tr;}));
  document.getElementById('queues').textContent='Queue depth: '+
    Object.entries(s.queues).map(([k,v])=>k+' = '+(v==null?'unknown':v)).join(', ');
  const claude=document.getElementById('claude');
  claude.textContent=s.claude?s.claude.detail:'not in use';
  claude.className=s.claude&&!s.claude.ok?'st failed':'muted';
  fill('failures', s.failures.map(f=>{const tr=document.createElement('tr');
    tr.append(cell(f.id), cell(f.status,'st '+f.status), cell(f.lastError)); return tr;}));
}
refresh(); setInterval(refresh, 2000);
</script>
</body></html>
"""
