// Renders every formula of one build in one Node process (docs/build/katex.py calls it).
// stdin: a JSON array of {"tex": "...", "display": true|false}.
// stdout: a JSON array of {"html": "..."} or {"error": "..."}, in the same order.
// KaTeX comes from docs/node_modules (npm ci --prefix docs), pinned by docs/package-lock.json.
"use strict";
const path = require("path");
const katex = require(path.join(__dirname, "..", "node_modules", "katex"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ tex, display }) => {
    try {
      // throwOnError: a bad formula fails the build; htmlAndMathml: MathML for screen readers.
      return { html: katex.renderToString(tex, {
        displayMode: display, throwOnError: true, output: "htmlAndMathml", strict: "error" }) };
    } catch (error) {
      return { error: String(error.message).split("\n")[0] };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
