//! The inline style sheet and scripts of the pages, and the Content Security
//! Policy that pins them.
//!
//! The scripts are allowed by their SHA-256 hash (CSP Level 2, W3C), not by
//! `'unsafe-inline'`: even if an escaping bug let markup from a file through,
//! a browser would refuse to run any script but these. After editing a script,
//! recompute its hash with `scripts/csp-hash` (the browser test fails if a
//! hash is stale, because the script then does not run).

/// Runs once on load, on both pages: the language switch, the heatmap
/// opacity slider (review page) and the verdict filters (index). Each part
/// does nothing when its controls are absent.
pub(crate) const SCRIPT: &str = r#"(function(){var d=document,r=d.documentElement;function each(q,f){Array.prototype.forEach.call(d.querySelectorAll(q),f);}function setLang(l){r.className=r.className.replace(/\bshow-\w+/,'show-'+l);r.lang=l==='zh'?'zh-Hans':'en';each('button[data-lang]',function(b){b.setAttribute('aria-pressed',b.getAttribute('data-lang')===l?'true':'false');});}each('button[data-lang]',function(b){b.addEventListener('click',function(){setLang(b.getAttribute('data-lang'));});});var s=d.getElementById('opacity'),o=d.getElementById('opacity-value');function op(){each('.overlay',function(e){e.style.opacity=String(s.value/100);});o.textContent=s.value+'%';}if(s&&o){s.addEventListener('input',op);op();}function filt(){var on={},k=0;each('input[data-filter]',function(b){on[b.getAttribute('data-filter')]=b.checked;});each('li[data-verdict]',function(c){var v=on[c.getAttribute('data-verdict')]!==false;c.hidden=!v;if(v)k++;});each('.shown',function(e){e.textContent=String(k);});}each('input[data-filter]',function(b){b.addEventListener('change',filt);});filt();r.setAttribute('data-ready','1');})();"#;

/// Base64 SHA-256 of [`SCRIPT`], for the Content Security Policy.
pub(crate) const SCRIPT_SHA256: &str = "0ZpF5XJvUK0bkhFQwGJTv6gjxBzRmEQTeOdFH8nnQmM=";

/// The policy of both pages: nothing may be fetched (images are data URIs),
/// and only the scripts above may run.
pub(crate) fn content_security_policy(script_hash: &str) -> String {
    format!(
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; \
         script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
}

/// Shared style sheet. System fonts only (no web fonts, no requests); the
/// verdict colours carry a word, an icon and a pattern too, so nothing
/// depends on colour alone; `@media print` hides the controls and keeps the
/// bands in colour.
pub(crate) const CSS: &str = r#"
:root{--ink:#1c1f23;--muted:#5b6470;--line:#d7dbe0;--bg:#f5f6f8;--card:#fff;
--ok:#1e7b3a;--ok-bg:#e3f4e8;--warn:#8a5a00;--warn-bg:#fff3d1;--edit:#b3261e;--edit-bg:#fde7e5;--ai:#6a2bb3;--ai-bg:#efe5fb;--focus:#1a5fd0}
*{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","PingFang SC","Microsoft YaHei","DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg);line-height:1.5}
body{margin:0 auto;max-width:1200px;padding:16px 20px 40px}
.show-en .zh,.show-zh .en{display:none}
a{color:var(--focus)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
header.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:8px 16px;margin-bottom:12px}
header.top h1{font-size:1.15rem;margin:0;font-weight:600;word-break:break-all}
header.top .brand{color:var(--muted);font-size:.85rem;font-weight:400;display:block}
.controls{display:flex;flex-wrap:wrap;gap:12px;align-items:center}
.langs{display:inline-flex;border:1px solid var(--line);border-radius:8px;overflow:hidden;background:var(--card)}
.langs button{font:inherit;border:0;background:transparent;padding:6px 14px;cursor:pointer;color:var(--ink)}
.langs button[aria-pressed=true]{background:var(--ink);color:#fff}
section,figure{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 20px;margin:0 0 16px}
h2{font-size:1.05rem;margin:0 0 10px}
.verdict{display:flex;gap:18px;align-items:flex-start;border-width:2px;border-left-width:14px}
.verdict .icon{flex:none;width:64px;height:64px}
.verdict .word{font-size:1.7rem;font-weight:700;margin:0;line-height:1.2}
.verdict .sentence{font-size:1.1rem;margin:4px 0 8px}
.verdict .point{color:var(--muted);font-size:.9rem;margin:6px 0 0}
.v-authentic{border-color:var(--ok);background:var(--ok-bg)}
.v-inconclusive{border-color:var(--warn);background:var(--warn-bg) radial-gradient(rgba(138,90,0,.13) 1.5px,transparent 1.6px) 0 0/12px 12px}
.v-edited{border-color:var(--edit);background:var(--edit-bg) repeating-linear-gradient(135deg,rgba(179,38,30,.07) 0 10px,transparent 10px 20px)}
.v-ai_generated{border-color:var(--ai);background:var(--ai-bg) repeating-linear-gradient(45deg,rgba(106,43,179,.08) 0 6px,transparent 6px 12px),repeating-linear-gradient(135deg,rgba(106,43,179,.08) 0 6px,transparent 6px 12px)}
.v-authentic .word{color:var(--ok)}.v-inconclusive .word{color:var(--warn)}.v-edited .word{color:var(--edit)}.v-ai_generated .word{color:var(--ai)}
.meter{position:relative;height:14px;border-radius:7px;max-width:520px;margin:10px 0 4px;background:linear-gradient(90deg,var(--ok) 0 var(--a),#e0a800 var(--a) var(--f),var(--edit) var(--f) 100%);opacity:.85}
.meter .mark{position:absolute;top:-5px;width:4px;height:24px;margin-left:-2px;background:var(--ink);border:1px solid #fff;border-radius:2px}
.scale{display:flex;justify-content:space-between;max-width:520px;color:var(--muted);font-size:.75rem}
.layout{display:grid;grid-template-columns:minmax(0,3fr) minmax(300px,2fr);gap:16px;align-items:start}
@media (max-width:900px){.layout{grid-template-columns:1fr}}
figure{margin:0 0 16px}
.stage{position:relative;display:inline-block;max-width:100%;line-height:0;overflow:hidden;border-radius:6px;background:#222}
.stage img.photo{display:block;max-width:100%;max-height:85vh;width:auto;height:auto}
.stage img.overlay{position:absolute;left:0;top:0;pointer-events:none;opacity:.6}
.box{position:absolute;border:3px solid #fff;outline:2px dashed #b3261e;outline-offset:-5px;box-shadow:0 0 0 2px rgba(0,0,0,.55);text-decoration:none;line-height:1}
.box span{position:absolute;left:-3px;top:-3px;transform:translateY(-100%);background:#b3261e;color:#fff;font:700 13px/1 system-ui,sans-serif;padding:3px 6px;border-radius:4px 4px 4px 0;min-width:22px;text-align:center}
.box.in span{transform:none;left:0;top:0;border-radius:0 0 4px 0}
.box.ref span{background:#1a5fd0}.box.ref{outline-color:#1a5fd0}
.box.note{outline:2px dotted #555;border-color:#ddd}.box.note span{background:#555}
figcaption{margin-top:10px;font-size:.9rem;color:var(--muted);line-height:1.45}
.slider{display:flex;gap:8px;align-items:center;font-size:.9rem}
.slider input{width:160px}
.legend{display:inline-block;width:90px;height:10px;border-radius:5px;background:linear-gradient(90deg,rgba(255,214,0,.35),rgba(255,140,0,.8),rgba(210,0,0,.95));vertical-align:middle;margin:0 4px}
ol.findings{list-style:none;margin:0;padding:0}
ol.findings li{border-top:1px solid var(--line);padding:10px 0;display:grid;grid-template-columns:34px minmax(0,1fr);gap:4px 10px;break-inside:avoid}
ol.findings li:first-child{border-top:0}
.num{width:28px;height:28px;border-radius:50%;background:var(--line);color:var(--ink);font-weight:700;display:flex;align-items:center;justify-content:center;font-size:.85rem}
.num.boxed{background:#b3261e;color:#fff}
.tag{display:inline-block;font-size:.75rem;font-weight:600;padding:1px 8px;border-radius:10px;margin-right:6px;border:1px solid currentColor}
.tag.c-ai_generated{color:var(--ai)}.tag.c-edited{color:var(--edit)}.tag.c-none{color:var(--muted)}
.msg{margin:2px 0;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.8rem;overflow-wrap:anywhere}
.bar{display:inline-block;width:70px;height:8px;border-radius:4px;background:var(--line);vertical-align:middle;margin-right:6px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--ink)}
table{border-collapse:collapse;width:100%;font-size:.92rem}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-top:1px solid var(--line)}
th{width:36%;font-weight:600;color:var(--muted)}
td{word-break:break-word}
.absent{color:var(--muted);font-style:italic}
pre{white-space:pre-wrap;word-break:break-word;margin:0;font-size:.82rem;max-height:16em;overflow:auto;background:var(--bg);padding:6px;border-radius:6px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.pair h3{font-size:.95rem;margin:0 0 6px}
.note{color:var(--muted);font-size:.9rem}
footer{color:var(--muted);font-size:.8rem;margin-top:24px}
.filters{display:flex;flex-wrap:wrap;gap:10px 18px;align-items:center;border:0;padding:0;margin:0}
.filters legend{font-weight:600;float:left;margin-right:10px}
.filters label{display:inline-flex;gap:6px;align-items:center;padding:4px 10px;border:1px solid var(--line);border-radius:16px;background:var(--card);cursor:pointer}
.grid{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:14px}
.card{background:var(--card);border:1px solid var(--line);border-top-width:8px;border-radius:10px;overflow:hidden;break-inside:avoid}
.card a.link{display:block;color:inherit;text-decoration:none}
.card .thumb{height:160px;background:#222 center/contain no-repeat;display:flex;align-items:center;justify-content:center}
.card .thumb img{max-width:100%;max-height:160px;display:block}
.card .body{padding:8px 12px 12px}
.card .body p{margin:4px 0}
.card .name{font-weight:600;font-size:.9rem;word-break:break-all}
.card .folder{color:var(--muted);font-size:.72rem;word-break:break-all;margin-bottom:0}
.card.v-error .thumb{background:var(--line)}
p.intro{margin-top:0}
.badge{display:inline-flex;align-items:center;gap:5px;font-weight:700;font-size:.85rem}
.badge svg{width:18px;height:18px}
.card.v-authentic{border-top-color:var(--ok)}.card.v-inconclusive{border-top-color:#e0a800}.card.v-edited{border-top-color:var(--edit)}.card.v-ai_generated{border-top-color:var(--ai)}.card.v-error{border-top-color:var(--muted)}
.b-authentic{color:var(--ok)}.b-inconclusive{color:var(--warn)}.b-edited{color:var(--edit)}.b-ai_generated{color:var(--ai)}
.card.v-authentic,.card.v-inconclusive,.card.v-edited,.card.v-ai_generated{background:var(--card)}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media print{
 body{max-width:none;padding:0;background:#fff}
 html{background:#fff;font-size:11pt}
 .controls,.slider,.filters{display:none!important}
 section,figure,.card{border-color:#999;break-inside:avoid}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 .layout{grid-template-columns:1fr}
 pre{max-height:none;overflow:visible}
 a{color:inherit;text-decoration:none}
}
"#;
