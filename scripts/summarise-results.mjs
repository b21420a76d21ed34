// Adds up vitest JSON reports into one closing line: "N passed, N failed" (", N skipped" when any). Each failed test
// is listed above that line with its file and the first line of its error, so the tail of a CI log names it.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

let passed = 0, failed = 0, skipped = 0, missing = 0;
const failures = [];
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) { missing++; continue; }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numFailedTestSuites && !r.numFailedTests ? r.numFailedTestSuites : 0);
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  for (const suite of r.testResults ?? []) {
    const where = relative(process.cwd(), suite.name ?? '?');
    const bad = (suite.assertionResults ?? []).filter((t) => t.status === 'failed');
    for (const t of bad) failures.push(`${where} > ${t.fullName ?? t.title}\n    ${firstLine(t.failureMessages?.[0])}`);
    if (!bad.length && suite.status === 'failed') failures.push(`${where} (the file failed: ${firstLine(suite.message)})`);
  }
}
function firstLine(text) {
  return String(text ?? '').split('\n').find((l) => l.trim()) ?? '';
}
if (failures.length) console.log(`failed:\n${failures.map((f) => `  ✗ ${f}`).join('\n')}`);
if (missing) console.log(`(${missing} suite report(s) missing: that stage did not run)`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || missing > 0 ? 1 : 0);
