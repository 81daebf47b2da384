#!/usr/bin/env node
// Validate every $…$ and $$…$$ span of Markdown files with the real KaTeX parser
// (the pinned katex of package.json, from the repository's node_modules).
// Usage: node tools/katex_check.js FILE.md …   Prints one JSON object:
// {"files": n, "spans": n, "errors": [{"file", "line", "tex", "message"}]}; exit 1 on errors.
"use strict";
const fs = require("fs");
const path = require("path");
const katex = require(path.join(__dirname, "..", "node_modules", "katex"));

// Math spans of a Markdown text, skipping fenced code blocks and `inline code`.
function spans(text) {
  const found = [];
  let i = 0, line = 1, fenced = false;
  const lines = text.split("\n");
  const kept = lines.map((l) => {
    if (/^\s*(```|~~~)/.test(l)) { fenced = !fenced; return ""; }
    return fenced ? "" : l;
  }).join("\n");
  while (i < kept.length) {
    const c = kept[i];
    if (c === "\n") { line++; i++; continue; }
    if (c === "\\" ) { i += 2; continue; }
    if (c === "`") { const end = kept.indexOf("`", i + 1); i = end < 0 ? kept.length : end + 1; continue; }
    if (c === "$") {
      const display = kept[i + 1] === "$";
      const open = display ? 2 : 1;
      const close = display ? "$$" : "$";
      let j = i + open;
      while (j < kept.length && (kept.startsWith(close, j) === false || kept[j - 1] === "\\")) {
        if (!display && kept[j] === "\n") break;
        j++;
      }
      if (j >= kept.length || (!display && kept[j] === "\n")) {
        found.push({line, tex: kept.slice(i, Math.min(j, i + 80)), display, unclosed: true});
        i = j; continue;
      }
      const tex = kept.slice(i + open, j);
      found.push({line, tex, display});
      line += (tex.match(/\n/g) || []).length;
      i = j + open;
      continue;
    }
    i++;
  }
  return found;
}

const result = {files: 0, spans: 0, errors: []};
for (const file of process.argv.slice(2)) {
  result.files++;
  for (const s of spans(fs.readFileSync(file, "utf8"))) {
    result.spans++;
    if (s.unclosed) { result.errors.push({file, line: s.line, tex: s.tex, message: "unclosed $"}); continue; }
    try {
      katex.renderToString(s.tex, {throwOnError: true, strict: "error", displayMode: s.display});
    } catch (e) {
      result.errors.push({file, line: s.line, tex: s.tex.slice(0, 300), message: String(e.message).slice(0, 300)});
    }
  }
}
console.log(JSON.stringify(result));
process.exit(result.errors.length ? 1 : 0);
